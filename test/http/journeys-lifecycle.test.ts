import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { JourneyStatus, PointDraft } from '../../src/domain/journey.js';
import type { LifecycleAction } from '../../src/domain/lifecycle.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';
import { drive, journeyBody, journeyInStatus, readJourney, transition } from '../support/journey-api.js';
import { everyPointType, minimalPoints, point, withPoint } from '../support/journey-fixtures.js';

describeEachBackend('journey lifecycle API', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  const journeyIn = (status: JourneyStatus, points?: PointDraft[]) => journeyInStatus(ctx, status, points);

  const legal: [JourneyStatus, LifecycleAction, JourneyStatus][] = [
    ['STATUS_DRAFT', 'start', 'STATUS_RUNNING'],
    ['STATUS_PAUSED', 'start', 'STATUS_RUNNING'],
    ['STATUS_RUNNING', 'pause', 'STATUS_PAUSED'],
    ['STATUS_RUNNING', 'finish', 'STATUS_FINISHED'],
    ['STATUS_PAUSED', 'finish', 'STATUS_FINISHED'],
    ['STATUS_PAUSED', 'draft', 'STATUS_DRAFT'],
    ['STATUS_DRAFT', 'archive', 'STATUS_ARCHIVED'],
    ['STATUS_FINISHED', 'archive', 'STATUS_ARCHIVED'],
  ];

  for (const [from, action, to] of legal) {
    it(`${action} moves a journey from ${from} to ${to}`, async () => {
      const uuid = await journeyIn(from);
      const before = await readJourney(ctx, uuid);
      const res = await transition(ctx, action, uuid);
      assert.equal(res.statusCode, 200, res.body);
      const moved = res.json();
      assert.equal(moved.info.status, to);
      assert.deepEqual(moved.points, before.points);
      assert.ok(moved.info.updated_at >= before.info.updated_at);
      assert.deepEqual(await readJourney(ctx, uuid), moved);
    });
  }

  const illegal: [JourneyStatus, LifecycleAction, string][] = [
    [
      'STATUS_RUNNING',
      'start',
      'cannot start a journey in STATUS_RUNNING: start moves a journey from STATUS_DRAFT or STATUS_PAUSED to STATUS_RUNNING',
    ],
    [
      'STATUS_FINISHED',
      'start',
      'cannot start a journey in STATUS_FINISHED: start moves a journey from STATUS_DRAFT or STATUS_PAUSED to STATUS_RUNNING',
    ],
    [
      'STATUS_ARCHIVED',
      'start',
      'cannot start a journey in STATUS_ARCHIVED: start moves a journey from STATUS_DRAFT or STATUS_PAUSED to STATUS_RUNNING',
    ],
    ['STATUS_DRAFT', 'pause', 'cannot pause a journey in STATUS_DRAFT: pause moves a journey from STATUS_RUNNING to STATUS_PAUSED'],
    ['STATUS_PAUSED', 'pause', 'cannot pause a journey in STATUS_PAUSED: pause moves a journey from STATUS_RUNNING to STATUS_PAUSED'],
    ['STATUS_FINISHED', 'pause', 'cannot pause a journey in STATUS_FINISHED: pause moves a journey from STATUS_RUNNING to STATUS_PAUSED'],
    ['STATUS_ARCHIVED', 'pause', 'cannot pause a journey in STATUS_ARCHIVED: pause moves a journey from STATUS_RUNNING to STATUS_PAUSED'],
    [
      'STATUS_DRAFT',
      'finish',
      'cannot finish a journey in STATUS_DRAFT: finish moves a journey from STATUS_RUNNING or STATUS_PAUSED to STATUS_FINISHED',
    ],
    [
      'STATUS_FINISHED',
      'finish',
      'cannot finish a journey in STATUS_FINISHED: finish moves a journey from STATUS_RUNNING or STATUS_PAUSED to STATUS_FINISHED',
    ],
    [
      'STATUS_ARCHIVED',
      'finish',
      'cannot finish a journey in STATUS_ARCHIVED: finish moves a journey from STATUS_RUNNING or STATUS_PAUSED to STATUS_FINISHED',
    ],
    ['STATUS_DRAFT', 'draft', 'cannot draft a journey in STATUS_DRAFT: draft moves a journey from STATUS_PAUSED to STATUS_DRAFT'],
    ['STATUS_RUNNING', 'draft', 'cannot draft a journey in STATUS_RUNNING: draft moves a journey from STATUS_PAUSED to STATUS_DRAFT'],
    ['STATUS_FINISHED', 'draft', 'cannot draft a journey in STATUS_FINISHED: draft moves a journey from STATUS_PAUSED to STATUS_DRAFT'],
    ['STATUS_ARCHIVED', 'draft', 'cannot draft a journey in STATUS_ARCHIVED: draft moves a journey from STATUS_PAUSED to STATUS_DRAFT'],
    [
      'STATUS_RUNNING',
      'archive',
      'cannot archive a journey in STATUS_RUNNING: archive moves a journey from STATUS_DRAFT or STATUS_FINISHED to STATUS_ARCHIVED',
    ],
    [
      'STATUS_PAUSED',
      'archive',
      'cannot archive a journey in STATUS_PAUSED: archive moves a journey from STATUS_DRAFT or STATUS_FINISHED to STATUS_ARCHIVED',
    ],
    [
      'STATUS_ARCHIVED',
      'archive',
      'cannot archive a journey in STATUS_ARCHIVED: archive moves a journey from STATUS_DRAFT or STATUS_FINISHED to STATUS_ARCHIVED',
    ],
  ];

  for (const [from, action, message] of illegal) {
    it(`refuses ${action} in ${from}, naming both states, and changes nothing`, async () => {
      const uuid = await journeyIn(from);
      const before = await readJourney(ctx, uuid);
      const res = await transition(ctx, action, uuid);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { code: 400, message });
      assert.deepEqual(await readJourney(ctx, uuid), before);
    });
  }

  it('covers every (status, action) pair in the two tables above', () => {
    const pairs = new Set([...legal.map(([s, a]) => `${s}/${a}`), ...illegal.map(([s, a]) => `${s}/${a}`)]);
    assert.equal(pairs.size, 25);
  });

  it('lets a journey go round: start, pause, edit, start again, finish, archive', async () => {
    const uuid = await journeyIn('STATUS_DRAFT');
    await drive(ctx, uuid, ['start', 'pause']);
    const put = await ctx.request({ method: 'PUT', url: `/api/v3/journeygateway/${uuid}`, payload: journeyBody(everyPointType(), 'v2') });
    assert.equal(put.statusCode, 200, put.body);
    await drive(ctx, uuid, ['start', 'finish', 'archive']);
    const final = await readJourney(ctx, uuid);
    assert.equal(final.info.status, 'STATUS_ARCHIVED');
    assert.equal(final.info.title, 'v2');
  });

  for (const status of ['STATUS_RUNNING', 'STATUS_FINISHED', 'STATUS_ARCHIVED'] as const) {
    it(`refuses to edit a journey in ${status}, naming the state`, async () => {
      const uuid = await journeyIn(status);
      const before = await readJourney(ctx, uuid);
      const res = await ctx.request({
        method: 'PUT',
        url: `/api/v3/journeygateway/${uuid}`,
        payload: journeyBody(minimalPoints(), 'edited'),
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().message, `cannot edit a journey in ${status}: only a journey in STATUS_DRAFT or STATUS_PAUSED can be edited`);
      assert.deepEqual(await readJourney(ctx, uuid), before);
    });
  }

  it('validates the graph again when a paused journey, edited, is started', async () => {
    const uuid = await journeyIn('STATUS_PAUSED');
    const broken = [
      ...minimalPoints(),
      point('late', 'POINT_TYPE_SEND_SMS', { send_sms: { body: 'hi' } }, { default: 'exit' }, 'Late SMS'),
    ];
    const put = await ctx.request({ method: 'PUT', url: `/api/v3/journeygateway/${uuid}`, payload: journeyBody(broken) });
    assert.equal(put.statusCode, 200, put.body);
    const res = await transition(ctx, 'start', uuid);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().message, 'point "Late SMS" (late): cannot be reached from any entry point');
    assert.equal((await readJourney(ctx, uuid)).info.status, 'STATUS_PAUSED');
  });

  // One journey per rule of the start check, each refused with the point named.
  const startRefusals: { rule: string; points: () => PointDraft[]; message: string }[] = [
    {
      rule: 'at least one entry point',
      points: () => [point('exit', 'POINT_TYPE_EXIT', {})],
      message: 'journey has no entry point (one of POINT_TYPE_START_BY_API, POINT_TYPE_START_BY_SEGMENT, POINT_TYPE_EVENT)',
    },
    {
      rule: 'unique point uuids',
      points: () => [...minimalPoints(), point('api', 'POINT_TYPE_EXIT', {}, {}, 'Clash')],
      message: 'point "Clash" (api): uuid is used by more than one point',
    },
    {
      rule: 'required fields present',
      points: () => withPoint(everyPointType(), 'hook', (p) => ({ ...p, point_data: { webhook: { url: 'https://x.test' } } })),
      message: 'point "hook" (hook): webhook.method must be GET or POST, got nothing',
    },
    {
      rule: 'fields well-typed',
      points: () =>
        withPoint(everyPointType(), 'wait-ev', (p) => ({
          ...p,
          point_data: { wait_event: { branches: [{ key: 'bought', event_name: 'purchase' }], timeout_seconds: '1d' } },
        })),
      message: 'point "wait-ev" (wait-ev): wait_event.timeout_seconds must be a whole number of seconds from 1 to 315360000',
    },
    {
      rule: 'templates parse',
      points: () => withPoint(everyPointType(), 'push', (p) => ({ ...p, point_data: { send_push: { title: '{{', body: 'x' } } })),
      message: 'point "push" (push): send_push.title is not a valid template: output "{{" not closed, line:1, col:1',
    },
    {
      rule: 'seglang filters parse',
      points: () =>
        withPoint(everyPointType(), 'split', (p) => ({ ...p, point_data: { boolean_splitter: { filter: 'T("City", eq, "London") +' } } })),
      message: 'point "split" (split): boolean_splitter.filter: invalid filter: expected A(...), T(...), AT(...) or "(" at position 26',
    },
    {
      rule: 'outputs of the point type',
      points: () => withPoint(everyPointType(), 'split', (p) => ({ ...p, outputs: [{ key: 'default', next_point_uuid: 'ab' }] })),
      message: 'point "split" (split): output "output1" is not wired to a point',
    },
    {
      rule: 'no dangling next_point_uuid',
      points: () => withPoint(minimalPoints(), 'api', (p) => ({ ...p, outputs: [{ key: 'default', next_point_uuid: 'gone' }] })),
      message: 'point "api" (api): output "default" leads to unknown point "gone"',
    },
    {
      rule: 'exit points have no outputs',
      points: () => withPoint(minimalPoints(), 'exit', (p) => ({ ...p, outputs: [{ key: 'default', next_point_uuid: 'exit' }] })),
      message: 'point "exit" (exit): POINT_TYPE_EXIT has no outputs, but output "default" is set',
    },
    {
      rule: 'every point reachable',
      points: () => [...minimalPoints(), point('stray', 'POINT_TYPE_EXIT', {}, {}, 'Stray exit')],
      message: 'point "Stray exit" (stray): cannot be reached from any entry point',
    },
    {
      rule: 'ab_splitter percents sum to 100',
      points: () =>
        withPoint(everyPointType(), 'ab', (p) => ({
          ...p,
          point_data: {
            ab_splitter: {
              branches: [
                { key: 'a', percent: 70 },
                { key: 'b', percent: 70 },
              ],
            },
          },
        })),
      message: 'point "ab" (ab): ab_splitter.branches percents must sum to 100, not 140',
    },
    {
      rule: 'loops wait',
      points: () => withPoint(everyPointType(), 'email', (p) => ({ ...p, outputs: [{ key: 'default', next_point_uuid: 'split' }] })),
      message:
        'point "split" (split): is on a loop that never waits (split → push → email → split); a loop must pass through a WAIT with delay_seconds above 0 or a WAIT_EVENT',
    },
  ];

  for (const { rule, points, message } of startRefusals) {
    it(`refuses to start a journey that breaks "${rule}", naming the point`, async () => {
      const uuid = await journeyIn('STATUS_DRAFT', points());
      const res = await transition(ctx, 'start', uuid);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { code: 400, message });
      assert.equal((await readJourney(ctx, uuid)).info.status, 'STATUS_DRAFT');
    });
  }

  it('starts a journey that uses every point type', async () => {
    const uuid = await journeyIn('STATUS_DRAFT', everyPointType());
    const res = await transition(ctx, 'start', uuid);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().info.status, 'STATUS_RUNNING');
  });

  it('lets exactly one of several concurrent starts win', async () => {
    const uuid = await journeyIn('STATUS_DRAFT');
    const answers = await Promise.all(Array.from({ length: 6 }, () => transition(ctx, 'start', uuid)));
    const won = answers.filter((res) => res.statusCode === 200);
    const lost = answers.filter((res) => res.statusCode !== 200);
    assert.equal(won.length, 1);
    for (const res of lost) {
      assert.deepEqual(res.json(), {
        code: 400,
        message: 'cannot start a journey in STATUS_RUNNING: start moves a journey from STATUS_DRAFT or STATUS_PAUSED to STATUS_RUNNING',
      });
    }
    const stored = await ctx.store.journeys.findByUuid(uuid);
    assert.equal(stored?.journey.info.status, 'STATUS_RUNNING');
    assert.equal(stored?.revision, 1, 'the journey was written once');
  });

  it('store: a transition from a stale read does not apply', async () => {
    const uuid = await journeyIn('STATUS_DRAFT');
    const read = await ctx.store.journeys.findByUuid(uuid);
    assert.ok(read);
    const first = await ctx.store.journeys.transition(read, 'STATUS_RUNNING');
    assert.equal(first?.journey.info.status, 'STATUS_RUNNING');
    assert.equal(await ctx.store.journeys.transition(read, 'STATUS_ARCHIVED'), undefined);
    assert.equal((await readJourney(ctx, uuid)).info.status, 'STATUS_RUNNING');
  });

  it('store: an edit between reading and starting makes the start miss', async () => {
    const uuid = await journeyIn('STATUS_DRAFT');
    const validated = await ctx.store.journeys.findByUuid(uuid);
    assert.ok(validated);
    const edited = await ctx.store.journeys.replace(validated.id, { title: 'edited', params: validated.journey.info.params, points: [] }, [
      'STATUS_DRAFT',
      'STATUS_PAUSED',
    ]);
    assert.equal(edited?.revision, validated.revision + 1);
    assert.equal(await ctx.store.journeys.transition(validated, 'STATUS_RUNNING'), undefined);
    assert.equal((await readJourney(ctx, uuid)).info.status, 'STATUS_DRAFT');
  });

  it('store: replace applies only in the statuses it is given', async () => {
    const uuid = await journeyIn('STATUS_RUNNING');
    const running = await ctx.store.journeys.findByUuid(uuid);
    assert.ok(running);
    const definition = { title: 'edited', params: running.journey.info.params, points: [] };
    assert.equal(await ctx.store.journeys.replace(running.id, definition, ['STATUS_DRAFT', 'STATUS_PAUSED']), undefined);
    assert.equal((await readJourney(ctx, uuid)).info.title, 'Onboarding');
  });
});
