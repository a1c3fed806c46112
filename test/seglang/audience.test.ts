import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { parseSeglang, SeglangError } from '../../src/domain/seglang/index.js';
import { TagType } from '../../src/domain/tags.js';
import type { Application } from '../../src/store/applications/index.js';
import { Store } from '../../src/store/store.js';
import { createTestDatabase, describeEachBackend, type TestDatabase } from '../support/backends.js';

const CODE = 'SEGL0-00001';
const OTHER_CODE = 'SEGL0-00002';
/** The moment every `daysago` below counts from: 2024-06-15 12:00 UTC. */
const NOW = Date.UTC(2024, 5, 15, 12, 0);
const NOW_SECONDS = NOW / 1000;
const DAY = 86_400;
const HOUR = 3_600;

/**
 * Five devices, each its own user (so user ids are the hwids), with every tag
 * type; d4 has no tags. The other application has a London device that no
 * expression compiled for CODE may select.
 */
const DEVICES = [
  {
    hwid: 'd1',
    deviceType: 1,
    tags: {
      Age: 25,
      City: 'London',
      Interests: ['sports', 'music'],
      Signup: '2024-05-01 10:30',
      Premium: true,
      Score: 4.5,
      'App Version': '1.10.0',
      'Last Open': NOW_SECONDS - DAY - HOUR,
    },
  },
  {
    hwid: 'd2',
    deviceType: 3,
    tags: {
      Age: 17,
      City: 'Paris',
      Interests: ['music'],
      Signup: '2024-05-02 00:00',
      Premium: false,
      Score: 3.25,
      'App Version': '1.9.0',
      'Last Open': NOW_SECONDS - 5 * DAY,
    },
  },
  {
    hwid: 'd3',
    deviceType: 11,
    tags: {
      Age: 40,
      City: 'london',
      Interests: ['cooking'],
      Signup: '2024-04-30 23:59',
      Premium: true,
      Score: -1.5,
      'App Version': '2.0',
      'Last Open': NOW_SECONDS - 10 * DAY - 1,
    },
  },
  { hwid: 'd4', deviceType: 1, tags: {} },
  { hwid: 'd5', deviceType: 14, tags: { Age: 30, City: 'Berlin' } },
] as const;

const DECLARED: Record<string, TagType> = {
  Age: TagType.Integer,
  City: TagType.String,
  Interests: TagType.List,
  Signup: TagType.Date,
  Premium: TagType.Boolean,
  Score: TagType.Decimal,
  'App Version': TagType.Version,
  'Last Open': TagType.Date,
};

const ALL = ['d1', 'd2', 'd3', 'd4', 'd5'];

/** [expression, the devices it selects] for every operator on every tag type. */
const CASES: Record<string, [string, string[]][]> = {
  Integer: [
    ['T("Age", eq, 25)', ['d1']],
    ['T("Age", eq, "25")', ['d1']],
    ['T("Age", noteq, 25)', ['d2', 'd3', 'd5']],
    ['T("Age", in, [17, 40])', ['d2', 'd3']],
    ['T("Age", notin, [17, 40])', ['d1', 'd5']],
    ['T("Age", gte, 30)', ['d3', 'd5']],
    ['T("Age", lte, 25)', ['d1', 'd2']],
    ['T("Age", between, [18, 30])', ['d1', 'd5']],
    ['T("Age", any)', ['d1', 'd2', 'd3', 'd5']],
    ['T("Age", notset)', ['d4']],
  ],
  String: [
    ['T("City", eq, "London")', ['d1']],
    ['T("City", noteq, "London")', ['d2', 'd3', 'd5']],
    ['T("City", in, ["Paris", "Berlin"])', ['d2', 'd5']],
    ['T("City", notin, ["London", "london"])', ['d2', 'd5']],
    ['T("City", gte, "M")', ['d2', 'd3']],
    ['T("City", lte, "Berlin")', ['d5']],
    ['T("City", between, ["A", "M"])', ['d1', 'd5']],
    ['T("City", any)', ['d1', 'd2', 'd3', 'd5']],
    ['T("City", notset)', ['d4']],
  ],
  List: [
    ['T("Interests", eq, "music")', ['d1', 'd2']],
    ['T("Interests", noteq, "music")', ['d3']],
    ['T("Interests", in, ["sports", "cooking"])', ['d1', 'd3']],
    ['T("Interests", notin, ["sports", "cooking"])', ['d2']],
    ['T("Interests", any)', ['d1', 'd2', 'd3']],
    ['T("Interests", notset)', ['d4', 'd5']],
  ],
  Date: [
    ['T("Signup", eq, "2024-05-01")', ['d1']],
    ['T("Signup", eq, "2024-05-01 10:30")', ['d1']],
    [`T("Signup", eq, ${Date.UTC(2024, 4, 1, 10, 30) / 1000})`, ['d1']],
    ['T("Signup", noteq, "2024-05-01")', ['d2', 'd3']],
    ['T("Signup", in, ["2024-05-02", "2024-04-30"])', ['d2', 'd3']],
    ['T("Signup", notin, ["2024-05-02", "2024-04-30 23:59"])', ['d1']],
    ['T("Signup", gte, "2024-05-01")', ['d1', 'd2']],
    ['T("Signup", lte, "2024-05-01")', ['d1', 'd3']],
    ['T("Signup", between, ["2024-05-01", "2024-05-02"])', ['d1', 'd2']],
    ['T("Signup", any)', ['d1', 'd2', 'd3']],
    ['T("Signup", notset)', ['d4', 'd5']],
    ['T("Last Open", daysago, gt, 5)', ['d3']],
    ['T("Last Open", daysago, gte, 5)', ['d2', 'd3']],
    ['T("Last Open", daysago, lt, 5)', ['d1']],
    ['T("Last Open", daysago, lte, 5)', ['d1', 'd2']],
    ['T("Last Open", daysago, eq, 5)', ['d2']],
    ['T("Last Open", daysago, eq, 1)', ['d1']],
    ['T("Last Open", DAYSAGO, GTE, 0)', ['d1', 'd2', 'd3']],
  ],
  Boolean: [
    ['T("Premium", eq, true)', ['d1', 'd3']],
    ['T("Premium", eq, false)', ['d2']],
    ['T("Premium", eq, 1)', ['d1', 'd3']],
    ['T("Premium", noteq, true)', ['d2']],
    ['T("Premium", in, [true])', ['d1', 'd3']],
    ['T("Premium", notin, [true])', ['d2']],
    ['T("Premium", any)', ['d1', 'd2', 'd3']],
    ['T("Premium", notset)', ['d4', 'd5']],
  ],
  Decimal: [
    ['T("Score", eq, 4.5)', ['d1']],
    ['T("Score", noteq, 4.5)', ['d2', 'd3']],
    ['T("Score", in, [3.25, -1.5])', ['d2', 'd3']],
    ['T("Score", notin, [3.25])', ['d1', 'd3']],
    ['T("Score", gte, 3.25)', ['d1', 'd2']],
    ['T("Score", lte, 0)', ['d3']],
    ['T("Score", between, [-2, 4])', ['d2', 'd3']],
    ['T("Score", any)', ['d1', 'd2', 'd3']],
    ['T("Score", notset)', ['d4', 'd5']],
  ],
  Version: [
    ['T("App Version", eq, "2")', ['d3']],
    ['T("App Version", eq, 2.0)', ['d3']],
    ['T("App Version", noteq, "1.9")', ['d1', 'd3']],
    ['T("App Version", in, ["1.9.0", "2.0.0.0"])', ['d2', 'd3']],
    ['T("App Version", notin, ["1.9.0", "2.0.0.0"])', ['d1']],
    ['T("App Version", gte, "1.10")', ['d1', 'd3']],
    ['T("App Version", gte, 1.10)', ['d1', 'd3']],
    ['T("App Version", lte, "1.9.5")', ['d2']],
    ['T("App Version", between, ["1.9", "1.10"])', ['d1', 'd2']],
    ['T("App Version", any)', ['d1', 'd2', 'd3']],
    ['T("App Version", notset)', ['d4', 'd5']],
  ],
  'applications and platforms': [
    [`A("${CODE}")`, ALL],
    [`A("${CODE}", ["ios"])`, ['d1', 'd4']],
    [`A("${CODE}", ["IOS", "Android"])`, ['d1', 'd2', 'd4']],
    [`A("${CODE}", [11, "email"])`, ['d3', 'd5']],
    [`A("${CODE}", [])`, ALL],
    [`A("${OTHER_CODE}")`, []],
    [`A("${CODE}") \\ A("${CODE}", ["ios"])`, ['d2', 'd3', 'd5']],
    [`AT("${CODE}", "Age", between, [18, 30])`, ['d1', 'd5']],
    [`AT("${OTHER_CODE}", "Age", any)`, []],
  ],
  'set operators and precedence': [
    [`A("${CODE}") * T("City", eq, "London")`, ['d1']],
    ['T("Premium", eq, true) + T("Age", gte, 30) * T("City", eq, "Berlin")', ['d1', 'd3', 'd5']],
    ['(T("Premium", eq, true) + T("Age", gte, 30)) * T("City", eq, "Berlin")', ['d5']],
    [`A("${CODE}") \\ T("Premium", eq, true) \\ T("City", eq, "Paris")`, ['d4', 'd5']],
    [`A("${CODE}") \\ (T("Premium", eq, true) \\ T("City", eq, "Paris"))`, ['d2', 'd4', 'd5']],
    ['T("Age", any) \\ T("Age", gte, 30) + T("City", eq, "Berlin")', ['d1', 'd2', 'd5']],
    ['T("City", any) * T("Interests", any) \\ T("Interests", eq, "music") * T("Premium", eq, true)', ['d2', 'd3']],
    [`A("${CODE}", ["ios"]) + T("Score", lte, 0)`, ['d1', 'd3', 'd4']],
    [`(A("${CODE}") \\ T("City", any)) + T("Age", eq, 17)`, ['d2', 'd4']],
    [`A("${CODE}") \\ (A("${CODE}", ["ios"]) + T("City", eq, "Berlin"))`, ['d2', 'd3']],
  ],
  'chained form': [
    [`A("${CODE}").tags("City").eq("London")`, ['d1']],
    [`A("${CODE}").tags("Premium").eq(true).tags("Age").gte(30)`, ['d3']],
    [`A("${CODE}", ["ios", "android"]).TAGS("Interests").IN(["music"])`, ['d1', 'd2']],
    [`A("${CODE}").tags("Last Open").daysago(lte, 5).tags("City").noteq("Paris")`, ['d1']],
    [`A("${CODE}").tags("Age").between([18, 30]) + A("${CODE}").tags("City").notset()`, ['d1', 'd4', 'd5']],
  ],
  'undeclared tags': [
    ['T("Nope", eq, 1)', []],
    ['T("Nope", noteq, 1)', []],
    ['T("Nope", any)', []],
    ['T("Nope", notset)', ALL],
    ['T("Nope", notset) \\ T("Age", any)', ['d4']],
  ],
};

describeEachBackend('seglang audiences', (dialect) => {
  let database: TestDatabase;
  let store: Store;
  let app: Application;
  let other: Application;

  before(async () => {
    database = await createTestDatabase(dialect);
    store = Store.open(database.url);
    await store.migrate();
    app = await store.applications.create(CODE, 'seglang');
    other = await store.applications.create(OTHER_CODE, 'other');
    for (const [name, type] of Object.entries(DECLARED)) await store.tags.declare(app.id, name, type);
    for (const device of DEVICES) await store.devices.register(app.id, device);
    await store.devices.register(other.id, { hwid: 'o1', deviceType: 1, tags: { City: 'London', Age: 25 } });
  });
  after(async () => {
    await store.close();
    await database.drop();
  });

  /** Joined rather than `IN`, so that a device listed twice would show. */
  async function hwidsOf(applicationId: number, text: string): Promise<string[]> {
    const { deviceIds } = await store.audience.compile(applicationId, parseSeglang(text), NOW);
    const { rows } = await sql<{ hwid: string }>`SELECT d.hwid FROM (${deviceIds}) AS a JOIN devices d ON d.id = a.device_id
      ORDER BY d.hwid`.execute(store.backend.db);
    return rows.map((row) => row.hwid);
  }

  for (const [group, cases] of Object.entries(CASES)) {
    describe(group, () => {
      for (const [text, expected] of cases) {
        it(`${text} selects ${expected.join(', ') || 'nothing'}`, async () => {
          assert.deepEqual(await hwidsOf(app.id, text), expected, 'deviceIds');
          const expr = parseSeglang(text);
          // Every device is its own user here, so users and devices coincide.
          assert.deepEqual((await store.audience.usersMatching(app.id, expr, NOW)).sort(), expected, 'usersMatching');
          assert.deepEqual(await store.audience.filterUsers(app.id, expr, ALL, NOW), expected, 'filterUsers');
        });
      }
    });
  }

  it('narrows every expression to the application it is compiled for', async () => {
    assert.deepEqual(await hwidsOf(other.id, 'T("City", eq, "London")'), ['o1']);
    assert.deepEqual(await hwidsOf(other.id, `A("${CODE}") + T("Age", eq, 25)`), ['o1']);
    assert.deepEqual(await hwidsOf(other.id, 'T("Premium", notset)'), ['o1']);
    assert.deepEqual(await hwidsOf(app.id, `A("${OTHER_CODE}") + T("City", eq, "London")`), ['d1']);
  });

  it('binds values as parameters: an injection attempt is just a string that matches nothing', async () => {
    const countRows = async () => {
      const { rows } = await sql<{ n: number }>`SELECT (SELECT COUNT(*) FROM devices) + (SELECT COUNT(*) FROM device_tags) AS n`.execute(
        store.backend.db,
      );
      return Number(rows[0]?.n);
    };
    const rowsBefore = await countRows();
    assert.deepEqual(await hwidsOf(app.id, `T("City", eq, "'); DROP TABLE devices;--")`), []);
    assert.deepEqual(await hwidsOf(app.id, `T("City", in, ["x", "' OR 1=1 --"])`), []);
    assert.deepEqual(await hwidsOf(app.id, `T("Interests", noteq, "\\"; DELETE FROM device_tags; --")`), ['d1', 'd2', 'd3']);
    assert.equal(await countRows(), rowsBefore);
  });

  it('reports a value of the wrong type for its tag as a SeglangError', async () => {
    const cases: [string, string][] = [
      ['T("Age", eq, "abc")', 'tag "Age" is Integer; "abc" is not a number'],
      ['T("Age", gte, 17.5)', 'tag "Age" is Integer; 17.5 is not an integer'],
      ['T("City", eq, 5)', 'tag "City" is String; 5 is not a string'],
      ['T("Premium", eq, "yes")', 'tag "Premium" is Boolean; "yes" is not a boolean (true or false)'],
      ['T("Signup", gte, "May 1")', 'tag "Signup" is Date; "May 1" is not a date (YYYY-MM-DD, YYYY-MM-DD HH:mm or epoch seconds)'],
      ['T("App Version", gte, "1.x")', 'tag "App Version" is Version; "1.x" is not a version (a.b.c.d)'],
      ['T("Score", between, [1, "high"])', 'tag "Score" is Decimal; "high" is not a number'],
      ['T("Interests", gte, "a")', 'operator gte does not apply to List tag "Interests"'],
      ['T("Premium", between, [0, 1])', 'operator between does not apply to Boolean tag "Premium"'],
      ['T("Age", daysago, gt, 3)', 'operator daysago needs a Date tag; "Age" is Integer'],
    ];
    for (const [text, message] of cases) {
      await assert.rejects(store.audience.compile(app.id, parseSeglang(text), NOW), (error: unknown) => {
        assert.ok(error instanceof SeglangError, text);
        assert.equal(error.message, message);
        return true;
      });
    }
  });

  it('gives users with several devices once, matched by any of their devices, in the order asked', async () => {
    await store.devices.register(app.id, { hwid: 'u-phone', deviceType: 1, userId: 'alice', tags: { City: 'Oslo' } });
    await store.devices.register(app.id, { hwid: 'u-laptop', deviceType: 11, userId: 'alice', tags: { City: 'Rome' } });
    await store.devices.register(app.id, { hwid: 'u-tablet', deviceType: 1, userId: 'bob', tags: { City: 'Rome' } });
    const rome = parseSeglang('T("City", eq, "Rome")');
    assert.deepEqual((await store.audience.usersMatching(app.id, rome)).sort(), ['alice', 'bob']);
    assert.deepEqual(await store.audience.filterUsers(app.id, rome, ['bob', 'ghost', 'alice', 'bob', 'd1']), ['bob', 'alice']);
    assert.deepEqual(
      await store.audience.filterUsers(app.id, parseSeglang('T("City", eq, "Oslo") * T("City", eq, "Rome")'), ['alice']),
      [],
    );
    assert.deepEqual(await store.audience.filterUsers(app.id, rome, []), []);
  });

  it('compiles to a subquery another statement embeds: INSERT ... SELECT of the whole audience', async () => {
    await sql`CREATE TABLE seg_entries (device_id BIGINT NOT NULL, user_id TEXT NOT NULL)`.execute(store.backend.db);
    const audience = await store.audience.compile(app.id, parseSeglang('T("Age", gte, 18) \\ T("City", eq, "Berlin")'), NOW);
    await sql`INSERT INTO seg_entries (device_id, user_id)
      SELECT d.id, d.user_id FROM devices d WHERE d.id IN (${audience.deviceIds})`.execute(store.backend.db);
    const { rows } = await sql<{ user_id: string }>`SELECT user_id FROM seg_entries ORDER BY user_id`.execute(store.backend.db);
    assert.deepEqual(
      rows.map((row) => row.user_id),
      ['d1', 'd3'],
    );
    const users = await sql<{ user_id: string }>`SELECT user_id FROM (${audience.userIds}) AS u ORDER BY user_id`.execute(store.backend.db);
    assert.deepEqual(
      users.rows.map((row) => row.user_id),
      ['d1', 'd3'],
    );
  });
});
