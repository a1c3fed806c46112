import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { PointDraft } from '../../src/domain/journey.js';
import { TagType } from '../../src/domain/tags.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { createJourney, journeyBody, readJourney, transition } from '../support/journey-api.js';
import { point } from '../support/journey-fixtures.js';

/**
 * `start` checks each split and segment filter against the tag types the
 * application declared: a value that can never match its tag is refused,
 * naming the point, instead of sending every run to `default`.
 */
describeEachBackend('start: filters against declared tag types', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
    for (const [name, type] of [
      ['Plan', TagType.String],
      ['Age', TagType.Integer],
      ['VIP', TagType.Boolean],
    ] as const) {
      const res = await ctx.request({
        method: 'POST',
        url: '/json/1.3/addTag',
        payload: { request: { application: TEST_APP_CODE, tag: { name, type } } },
      });
      assert.equal(res.statusCode, 200, res.body);
    }
  });
  after(() => ctx.close());

  const splitOn = (filter: string): PointDraft[] => [
    point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'split' }),
    point('split', 'POINT_TYPE_BOOLEAN_SPLITTER', { boolean_splitter: { filter } }, { output1: 'exit', default: 'exit' }, 'Gold?'),
    point('exit', 'POINT_TYPE_EXIT', {}),
  ];
  const segmentOf = (filter: string): PointDraft[] => [
    point('seg', 'POINT_TYPE_START_BY_SEGMENT', { start_by_segment: { filter } }, { default: 'exit' }, 'Segment'),
    point('exit', 'POINT_TYPE_EXIT', {}),
  ];

  async function start(points: PointDraft[]) {
    const { info } = await createJourney(ctx, journeyBody(points));
    return { uuid: info.uuid, res: await transition(ctx, 'start', info.uuid) };
  }

  for (const [points, message] of [
    [splitOn('T("Plan", eq, true)'), 'point "Gold?" (split): boolean_splitter.filter: tag "Plan" is String; true is not a string'],
    [splitOn('T("Age", gte, "thirty")'), 'point "Gold?" (split): boolean_splitter.filter: tag "Age" is Integer; "thirty" is not a number'],
    [
      segmentOf('T("VIP", eq, "maybe")'),
      'point "Segment" (seg): start_by_segment.filter: tag "VIP" is Boolean; "maybe" is not a boolean (true or false)',
    ],
  ] as const) {
    it(`refuses ${message.split(': ')[0]} with ${message.split('; ')[1]}, and the journey stays a draft`, async () => {
      const { uuid, res } = await start([...points]);
      assert.equal(res.statusCode, 400);
      assert.ok(res.json<{ message: string }>().message.startsWith(message), res.body);
      assert.equal((await readJourney(ctx, uuid)).info.status, 'STATUS_DRAFT');
    });
  }

  for (const filter of ['T("Plan", eq, "gold")', 'T("Age", gte, 30) * T("VIP", eq, true)', 'T("NotDeclaredYet", eq, true)']) {
    it(`starts with ${filter}`, async () => {
      const { res } = await start(splitOn(filter));
      assert.equal(res.statusCode, 200, res.body);
    });
  }
});
