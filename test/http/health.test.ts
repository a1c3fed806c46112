import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, type TestContext } from '../support/app.js';

describeEachBackend('health and error shape', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  it('answers /healthz and /readyz', async () => {
    assert.equal((await ctx.request({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const ready = await ctx.request({ method: 'GET', url: '/readyz' });
    assert.deepEqual(ready.json(), { status: 'ready' });
  });

  it('answers unknown routes with a JSON 404 naming the route', async () => {
    const res = await ctx.request({ method: 'GET', url: '/nope?x=1' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { code: 404, message: 'no route for GET /nope' });
  });
});
