import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';

const APP = TEST_APP_CODE;

describeEachBackend('Device API: createFilter and listFilters', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  async function call(method: string, request: Record<string, unknown>) {
    const res = await ctx.request({ method: 'POST', url: `/json/1.3/${method}`, payload: { request } });
    return { status: res.statusCode, body: res.json<{ status_code: number; status_message: string; response: any }>() };
  }

  async function storedFilterCount(): Promise<number> {
    const rows = await ctx.store.backend.db.selectFrom('filters').select('name').execute();
    return rows.length;
  }

  it('stores a named filter in either syntax and lists them oldest first', async () => {
    await call('addTag', { application: APP, tag: { name: 'Age', type: 1 } });
    const first = await call('createFilter', {
      application: APP,
      name: 'Londoners',
      filter_expression: `A("${APP}").tags("City").eq("London")`,
    });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { status_code: 200, status_message: 'OK', response: { name: 'Londoners' } });
    const second = await call('createFilter', {
      application: APP,
      name: 'Adults',
      filter_expression: `AT("${APP}", "Age", between, [18, 30]) \\ T("Opted Out", any)`,
    });
    assert.equal(second.status, 200);

    const listed = await call('listFilters', { application: APP });
    assert.equal(listed.status, 200);
    const filters = listed.body.response.filters as { name: string; expression: string; created_at: string }[];
    assert.deepEqual(
      filters.map(({ name, expression }) => ({ name, expression })),
      [
        { name: 'Londoners', expression: `A("${APP}").tags("City").eq("London")` },
        { name: 'Adults', expression: `AT("${APP}", "Age", between, [18, 30]) \\ T("Opted Out", any)` },
      ],
    );
    assert.ok(filters.every((filter) => !Number.isNaN(Date.parse(filter.created_at))));
  });

  it('refuses a filter that does not parse, does not fit the tag types, or reuses a name, and writes nothing', async () => {
    const before = await storedFilterCount();
    const cases: [Record<string, unknown>, string][] = [
      [
        { name: 'broken', filter_expression: 'T("City", eq, "London"' },
        'request.filter_expression: invalid filter: expected ")" at position 23',
      ],
      [{ name: 'typo', filter_expression: 'T("Country", eqq, "x")' }, 'request.filter_expression: unknown operator "eqq" at position 14'],
      [{ name: 'range', filter_expression: 'T("Age", between, 18)' }, 'request.filter_expression: operator between needs [min, max]'],
      [
        { name: 'typed', filter_expression: 'T("Age", eq, "abc")' },
        'request.filter_expression: tag "Age" is Integer; "abc" is not a number',
      ],
      [{ name: 'Londoners', filter_expression: 'T("City", any)' }, 'request.name: a filter named "Londoners" already exists'],
      [{ name: '', filter_expression: 'T("City", any)' }, 'request.name must not be empty'],
      [{ name: 'no expression' }, 'request.filter_expression is required'],
      [{ name: 'not a string', filter_expression: 42 }, 'request.filter_expression must be a string'],
    ];
    for (const [fields, message] of cases) {
      const { status, body } = await call('createFilter', { application: APP, ...fields });
      assert.equal(status, 400, JSON.stringify(fields));
      assert.equal(body.status_code, 210);
      assert.equal(body.status_message, message);
    }
    assert.equal(await storedFilterCount(), before);
  });
});
