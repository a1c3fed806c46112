import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { PointDraft } from '../../src/domain/journey.js';
import { parseSeglang } from '../../src/domain/seglang/index.js';
import { SEGLANG_LIMITS } from '../../src/domain/seglang/limits.js';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { TEST_APP_CODE, startTestApp, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { createJourney as createDraft, journeyBody, transition } from '../support/journey-api.js';
import { everyPointType, withPoint } from '../support/journey-fixtures.js';
import { chainOfSteps, listOfValues, parenthesized, unionOfTerms } from '../seglang/limit-filters.js';
import { createJourney, entryRowCounts, registerDevices, requestStatus, runsOf, setTags, startExternal } from './start-external-support.js';

const APP = TEST_APP_CODE;
const { length, depth, setTerms, listValues, daysAgo } = SEGLANG_LIMITS;
/** Ann's last open, as epoch seconds; the Date lists below name it once among seconds no one's is. */
const ANN_LAST_OPEN = Date.UTC(2024, 5, 1, 9, 30) / 1000;

const TWENTY_THOUSAND_STEPS = chainOfSteps(`A("${APP}")`, 20_000, () => '.tags("City").any()');
const HUNDRED_THOUSAND_VALUES = `T("City", in, ${listOfValues(100_000, (i) => i)})`;

/** Filters over one limit each, those of the audit among them, and the refusal each gets (before any prefix of its field). */
const OVER_LIMITS: { readonly name: string; readonly filter: string; readonly message: string }[] = [
  {
    name: '10,000 nested parentheses',
    filter: parenthesized(10_000, 'T("City", any)'),
    message: `filter nests parentheses ${depth + 1} deep at position ${depth + 1}; at most ${depth} are allowed`,
  },
  {
    name: 'a 1,100-term union',
    filter: unionOfTerms(1_100, (i) => `T("City", eq, "c${i}")`),
    message: `filter has 1100 set terms; at most ${setTerms} are allowed`,
  },
  {
    name: '2,000 chained steps',
    filter: chainOfSteps(`A("${APP}")`, 2_000, () => '.tags("City").any()'),
    message: `filter has 2001 set terms; at most ${setTerms} are allowed`,
  },
  {
    name: '20,000 chained steps',
    filter: TWENTY_THOUSAND_STEPS,
    message: `filter is ${TWENTY_THOUSAND_STEPS.length} characters long; at most ${length} are allowed`,
  },
  {
    name: `an in list of ${listValues + 1} values`,
    filter: `T("City", in, ${listOfValues(listValues + 1, (i) => i)})`,
    message: `filter has ${listValues + 1} list values; at most ${listValues} are allowed`,
  },
  {
    name: 'a 100,000-value in list',
    filter: HUNDRED_THOUSAND_VALUES,
    message: `filter is ${HUNDRED_THOUSAND_VALUES.length} characters long; at most ${length} are allowed`,
  },
  {
    name: `two in lists of ${listValues / 2 + 1} values`,
    filter: unionOfTerms(2, () => `T("Age", in, ${listOfValues(listValues / 2 + 1, (i) => i)})`),
    message: `filter has ${listValues + 2} list values; at most ${listValues} are allowed`,
  },
  {
    name: 'daysago of 2^53 - 1',
    filter: 'T("Last Open", daysago, gt, 9007199254740991)',
    message: `operator daysago counts at most ${daysAgo} days either way, got 9007199254740991`,
  },
  {
    name: 'a \\u0000 escape',
    filter: 'T("City", eq, "a\\u0000b")',
    message: 'invalid filter: string contains a NUL character at position 15',
  },
];

/** Filters at each limit, and the users each selects among ann (London, 31, music, last open), bob (Paris, 40) and cid (no tags). */
const AT_LIMITS: { readonly name: string; readonly filter: string; readonly users: string[] }[] = [
  {
    name: `${length} characters`,
    filter: 'T("City", eq, "London")'.padEnd(length, ' '),
    users: ['ann'],
  },
  {
    name: `unions nested ${depth} deep`,
    // One term per level, the innermost in parentheses of its own: `depth` terms in all.
    filter:
      Array.from({ length: depth - 1 }, (_, i) => `T("City", eq, "c${i}") + (`).join('') +
      parenthesized(1, 'T("City", eq, "London")') +
      ')'.repeat(depth - 1),
    users: ['ann'],
  },
  {
    name: `a union of ${setTerms} terms`,
    filter: unionOfTerms(setTerms, (i) => (i === setTerms - 1 ? 'T("City", eq, "London")' : `T("City", eq, "c${i}")`)),
    users: ['ann'],
  },
  {
    name: `a union of ${setTerms} terms of two scans each`,
    filter: unionOfTerms(setTerms, () => 'T("Interests", notset)'),
    users: ['bob', 'cid'],
  },
  {
    name: `a union of ${setTerms} List exclusions`,
    filter: unionOfTerms(setTerms, (i) => `T("Interests", notin, ["x${i}"])`),
    users: ['ann'],
  },
  {
    name: `A(app) and ${setTerms - 1} chained steps`,
    filter: chainOfSteps(`A("${APP}")`, setTerms - 1, (i) => `.tags("Age").gte(${i % 30})`),
    users: ['ann', 'bob'],
  },
  {
    name: `an in list of ${listValues} strings`,
    filter: `T("City", in, ${listOfValues(listValues, (i) => (i === 0 ? '"London"' : `"c${i}"`))})`,
    users: ['ann'],
  },
  {
    name: `a Date in list of ${listValues} values`,
    filter: `T("Last Open", in, ${listOfValues(listValues, (i) => (i === 500 ? ANN_LAST_OPEN : ANN_LAST_OPEN + i + 1))})`,
    users: ['ann'],
  },
  {
    name: `two in lists of ${listValues / 2} values, strings and dates`,
    filter:
      `T("City", in, ${listOfValues(listValues / 2, (i) => `"c${i}"`)}) + ` +
      `T("Last Open", in, ${listOfValues(listValues / 2, (i) => (i === 0 ? ANN_LAST_OPEN : ANN_LAST_OPEN - i))})`,
    users: ['ann'],
  },
  {
    name: `daysago of ${daysAgo} either way`,
    filter: `T("Last Open", daysago, lt, ${daysAgo}) * T("Last Open", daysago, gt, -${daysAgo})`,
    users: ['ann'],
  },
];

function withFilter(points: PointDraft[], pointUuid: 'split' | 'seg', filter: string): PointDraft[] {
  return withPoint(points, pointUuid, (p) => ({
    ...p,
    point_data:
      pointUuid === 'split' ? { boolean_splitter: { filter } } : { start_by_segment: { filter, start_at: '2030-01-01T10:00:00Z' } },
  }));
}

describeEachBackend('seglang cost limits wherever a filter is accepted', (dialect) => {
  let ctx: TestContext;
  let worker: EntryWorker;
  let applicationId: number;
  before(async () => {
    ctx = await startTestApp(dialect);
    worker = new EntryWorker(ctx.store, { logger: createLogger('silent') });
    applicationId = (await ctx.store.applications.findByCode(APP))!.id;
    for (const tag of [
      { name: 'Interests', type: 3 },
      { name: 'Last Open', type: 4 },
    ]) {
      const res = await ctx.request({ method: 'POST', url: '/json/1.3/addTag', payload: { request: { application: APP, tag } } });
      assert.equal(res.statusCode, 200, res.body);
    }
    await registerDevices(ctx, [
      { hwid: 'hw-ann', userId: 'ann' },
      { hwid: 'hw-bob', userId: 'bob' },
      { hwid: 'hw-cid', userId: 'cid' },
    ]);
    await setTags(ctx, 'hw-ann', { City: 'London', Age: 31, Interests: ['music'], 'Last Open': ANN_LAST_OPEN });
    await setTags(ctx, 'hw-bob', { City: 'Paris', Age: 40 });
  });
  after(() => ctx.close());

  async function createFilter(name: string, filter: string) {
    const res = await ctx.request({
      method: 'POST',
      url: '/json/1.3/createFilter',
      payload: { request: { application: APP, name, filter_expression: filter } },
    });
    return { status: res.statusCode, message: res.json<{ status_message: string }>().status_message };
  }

  for (const { name, filter, message } of OVER_LIMITS) {
    it(`refuses ${name} with 400 naming the limit: Start by API, createFilter, a splitter and a segment entry at start`, async () => {
      const journey = await createJourney(ctx);
      const rowsBefore = await entryRowCounts(ctx.store);
      const started = await startExternal(ctx, journey, { payload: { filter } });
      assert.equal(started.statusCode, 400, started.body);
      assert.equal(started.json().message, message.startsWith('invalid filter') ? message : `invalid filter: ${message}`);
      assert.deepEqual(await entryRowCounts(ctx.store), rowsBefore);

      assert.deepEqual(await createFilter(name, filter), { status: 400, message: `request.filter_expression: ${message}` });

      for (const [pointUuid, field] of [
        ['split', 'boolean_splitter.filter'],
        ['seg', 'start_by_segment.filter'],
      ] as const) {
        const { info } = await createDraft(ctx, journeyBody(withFilter(everyPointType(), pointUuid, filter)));
        const res = await transition(ctx, 'start', info.uuid);
        assert.equal(res.statusCode, 400, `${pointUuid}: ${res.body.slice(0, 200)}`);
        assert.deepEqual(res.json(), { code: 400, message: `point "${pointUuid}" (${pointUuid}): ${field}: ${message}` });
      }
    });
  }

  for (const { name, filter, users } of AT_LIMITS) {
    it(`accepts ${name} everywhere, enters its users by API and evaluates it as a splitter does`, async () => {
      const journey = await createJourney(ctx);
      const started = await startExternal(ctx, journey, { payload: { filter } });
      assert.equal(started.statusCode, 200, started.body);
      await worker.drain();
      const status = await requestStatus(ctx, journey, started.json<{ request_uuid: string }>().request_uuid);
      assert.deepEqual([status.status, status.entered], ['done', users.length], JSON.stringify(status));
      assert.deepEqual(
        (await runsOf(ctx.store, journey)).map((run) => run.user_id),
        users,
      );

      assert.deepEqual(await ctx.store.audience.filterUsers(applicationId, parseSeglang(filter), ['ann', 'bob', 'cid']), users);

      assert.equal((await createFilter(name, filter)).status, 200);
      for (const pointUuid of ['split', 'seg'] as const) {
        const { info } = await createDraft(ctx, journeyBody(withFilter(everyPointType(), pointUuid, filter)));
        const res = await transition(ctx, 'start', info.uuid);
        assert.equal(res.statusCode, 200, `${pointUuid}: ${res.body.slice(0, 200)}`);
      }
    });
  }
});
