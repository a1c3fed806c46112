import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { MAX_JSON_DEPTH } from '../../src/http/json-body.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { createJourney, drive } from '../support/journey-api.js';

const APP = TEST_APP_CODE;
const DEEP = `${'['.repeat(2_500)}${']'.repeat(2_500)}`;

function json(method: 'POST' | 'PUT', url: string, text: string, contentType = 'application/json') {
  return { method, url, headers: { 'content-type': contentType }, payload: text };
}

describeEachBackend('JSON bodies: nesting depth, prototype poisoning, text/plain', (dialect) => {
  let ctx: TestContext;
  let running = '';
  before(async () => {
    ctx = await startTestApp(dialect);
    running = (await createJourney(ctx)).info.uuid;
    await drive(ctx, running, ['start']);
  });
  after(() => ctx.close());
  const deepBodies = [
    ['POST /api/v3/journeygateway', () => json('POST', '/api/v3/journeygateway', `{"title":"t","points":[],"x":${DEEP}}`)],
    ['POST /api/journey/:id/start/external', () => json('POST', `/api/journey/${running}/start/external`, `{"payload":${DEEP}}`)],
    [
      'POST /json/1.3/registerDevice',
      () =>
        json('POST', '/json/1.3/registerDevice', `{"request":{"application":"${APP}","hwid":"d","device_type":1,"tags":{"a":${DEEP}}}}`),
    ],
    ['POST /json/1.3/postEvent (text/plain)', () => json('POST', '/json/1.3/postEvent', `{"request":${DEEP}}`, 'text/plain;charset=UTF-8')],
  ] as const;
  for (const [route, request] of deepBodies) {
    it(`${route}: JSON nested 2,500 deep → 400 naming the limit`, async () => {
      const res = await ctx.request(request());
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().message, `body is JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    });
  }

  it(`JSON nested exactly ${MAX_JSON_DEPTH} deep is accepted`, async () => {
    const nested = `${'['.repeat(MAX_JSON_DEPTH - 3)}1${']'.repeat(MAX_JSON_DEPTH - 3)}`;
    const body = `{"request":{"application":"${APP}","hwid":"d","event":"e","attributes":{"a":${nested}}}}`;
    const res = await ctx.request(json('POST', '/json/1.3/postEvent', body));
    // Past the parser: refused by postEvent's own attribute rules, not by the depth limit.
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().message, /^request\.attributes\.a must be/);
  });

  it('keeps refusing prototype-poisoning keys, on the Journey API and the Device API', async () => {
    for (const url of ['/api/v3/journeygateway', '/json/1.3/listTags']) {
      const res = await ctx.request(json('POST', url, `{"request":{"application":"${APP}","__proto__":{"polluted":1}}}`));
      assert.equal(res.statusCode, 400, res.body);
    }
  });

  it("the Device API reads the JSON of Pushwoosh's Web SDK, sent as text/plain", async () => {
    const body = JSON.stringify({ request: { application: APP, hwid: 'web-1', device_type: 11 } });
    const res = await ctx.request(json('POST', '/json/1.3/registerDevice', body, 'text/plain;charset=UTF-8'));
    assert.equal(res.statusCode, 200, res.body);
    const guarded = JSON.stringify({ request: { application: APP, hwid: 'web\u0000', device_type: 11 } });
    const refused = await ctx.request(json('POST', '/json/1.3/registerDevice', guarded, 'text/plain;charset=UTF-8'));
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(refused.json().message, 'body.request.hwid contains a NUL character');
  });
});
