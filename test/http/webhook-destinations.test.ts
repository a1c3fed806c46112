import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestContext } from '../support/app.js';
import { describeEachBackend } from '../support/backends.js';
import { FORBIDDEN_HOSTS } from '../support/forbidden-hosts.js';
import { allowListPolicy, SINK_WEBHOOK_POLICY } from '../support/http-sink.js';
import { createJourney, journeyBody, transition } from '../support/journey-api.js';
import { point } from '../support/journey-fixtures.js';

/** Start by API → webhook to `url` → exit. */
function webhookJourney(url: string) {
  return journeyBody([
    point('api', 'POINT_TYPE_START_BY_API', { start_by_api: {} }, { default: 'hook' }),
    point(
      'hook',
      'POINT_TYPE_WEBHOOK',
      { webhook: { url, method: 'POST', headers: { Authorization: 'Bearer hook-secret' }, body: '{}' } },
      { default: 'exit' },
    ),
    point('exit', 'POINT_TYPE_EXIT', {}),
  ]);
}

async function start(ctx: TestContext, url: string) {
  const journey = await createJourney(ctx, webhookJourney(url));
  return transition(ctx, 'start', journey.info.uuid);
}

describeEachBackend('webhook destinations at start', (dialect) => {
  describe('under the default policy', () => {
    let ctx: TestContext;
    before(async () => {
      ctx = await startTestApp(dialect);
    });
    after(() => ctx.close());

    for (const { host, refusal } of FORBIDDEN_HOSTS) {
      it(`refuses http://${host}:8080/… with 400 naming the point and why`, async () => {
        const res = await start(ctx, `http://${host}:8080/hook/{{ user_id }}`);
        assert.equal(res.statusCode, 400, res.body);
        const body = res.json<{ code: number; message: string }>();
        assert.equal(body.code, 400);
        assert.ok(body.message.startsWith('point "hook" (hook): webhook.url is refused: '), body.message);
        assert.ok(body.message.includes(refusal), body.message);
      });
    }

    it('refuses a URL whose host a template could fill or move, before anything is sent', async () => {
      for (const url of [
        'http://hooks.example.invalid{{ p }}',
        'https://{{ tags.Host }}/hook',
        'https://hooks.example.com:{{ port }}/hook',
        'https://hooks.example.com{% if x %}.evil{% endif %}/hook',
      ]) {
        const res = await start(ctx, url);
        assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
        assert.match(
          res.json<{ message: string }>().message,
          /^point "hook" \(hook\): webhook\.url must spell out its scheme, host and port before any template tag/,
        );
      }
    });

    it('starts a journey whose webhook host is a public name and whose templates fill the path and query', async () => {
      const res = await start(ctx, 'https://hooks.example.com/users/{{ user_id }}?promo={{ promo_code }}');
      assert.equal(res.statusCode, 200, res.body);
    });
  });

  describe('with an allow-list', () => {
    let ctx: TestContext;
    before(async () => {
      ctx = await startTestApp(dialect, { webhookDestinations: allowListPolicy('10.0.0.0/8, hooks.internal') });
    });
    after(() => ctx.close());

    it('starts journeys calling the networks and host names it lists, and still refuses the rest', async () => {
      assert.equal((await start(ctx, 'http://10.1.2.3:8080/hook')).statusCode, 200);
      assert.equal((await start(ctx, 'http://hooks.internal/hook')).statusCode, 200);
      assert.equal((await start(ctx, 'http://hooks.localhost/hook')).statusCode, 400);
      assert.equal((await start(ctx, 'http://127.0.0.1:8080/hook')).statusCode, 400);
    });
  });

  describe('with loopback allowed, as for a test sink', () => {
    let ctx: TestContext;
    before(async () => {
      ctx = await startTestApp(dialect, { webhookDestinations: SINK_WEBHOOK_POLICY });
    });
    after(() => ctx.close());

    it('starts a journey calling 127.0.0.1 in any spelling', async () => {
      for (const host of ['127.0.0.1', '2130706433', '[::ffff:127.0.0.1]']) {
        const res = await start(ctx, `http://${host}:8080/hook/{{ user_id }}`);
        assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
      }
    });
  });
});
