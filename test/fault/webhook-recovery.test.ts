import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertExactlyOnce,
  assertStatistics,
  importUsers,
  journeydCli,
  faultRig,
  postgresSkip,
  requestStatus,
  startExternal,
  startWebhookJourney,
  TEST_APP_CODE,
  waitForJourneyDone,
  type Delivery,
} from './support.js';

/**
 * A webhook receiver that times out on each message's first attempt, answers
 * 500 on its second and 200 from then on. Every message is retried with
 * backoff and then delivered: one acknowledged delivery per message, three
 * requests in all, the waits between them those of the retry policy.
 */

const USERS = 300;
/** Set per application with `journeyd channels set`, as an operator would; the default is 10 s. */
const WEBHOOK_TIMEOUT_MS = 800;
/** The dispatcher's default retry policy (src/engine/dispatcher.ts DEFAULT_RETRY_POLICY): base 2 s, equal jitter. */
const BASE_DELAY_MS = 2_000;
/** Slack for clocks and scheduling between the sink's arrival times and the dispatcher's. */
const SKEW_MS = 150;

describe(
  `postgres: a webhook receiver that times out, then answers 500, then recovers (${USERS} messages, 2 workers)`,
  { skip: postgresSkip },
  () => {
    const rig = faultRig('postgres', { answer: (_delivery, attempt) => (attempt === 1 ? 'hang' : attempt === 2 ? 500 : 200) });

    it('retries each message with backoff until it is delivered, and delivers it exactly once', { timeout: 110_000 }, async () => {
      const started = Date.now();
      const users = await importUsers(rig.database.url, 'r', USERS);
      await journeydCli(rig.database.url, [
        'channels',
        'set',
        '--app',
        TEST_APP_CODE,
        '--channel',
        'webhook',
        '--config',
        JSON.stringify({ timeout_ms: WEBHOOK_TIMEOUT_MS }),
      ]);
      const api = await rig.supervisor.start('api', 'api');
      await Promise.all([rig.supervisor.start('w1', 'worker'), rig.supervisor.start('w2', 'worker')]);
      const url = api.url as string;
      const journey = await startWebhookJourney(url, rig.sink, 'flaky');
      const accepted = await startExternal(url, journey, users);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));

      // A bound, not a timing: three attempts per message take about 5 s of backoff plus the 800 ms timeout.
      await waitForJourneyDone(rig.store, journey, users.length, 80_000);
      const status = await requestStatus(url, journey, accepted.body.request_uuid as string);
      assert.deepEqual([status.status, status.entered], ['done', users.length]);
      const report = await assertExactlyOnce(rig.store, rig.sink, journey, 'flaky', users);
      assert.equal(report.repeatedKeys, 0, 'no message acknowledged twice');
      await assertStatistics(url, journey, users.length);

      // Per message: a request that timed out, one answered 500, one answered 200 — and no fourth.
      const byKey = new Map<string, Delivery[]>();
      for (const d of rig.sink.deliveries) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
      assert.equal(byKey.size, users.length);
      const firstGap: number[] = [];
      const secondGap: number[] = [];
      for (const [key, attempts] of byKey) {
        assert.deepEqual(
          attempts.map((a) => a.status),
          [0, 500, 200],
          `attempts of ${key}`,
        );
        const [a, b, c] = attempts as [Delivery, Delivery, Delivery];
        firstGap.push(b.at - a.at);
        secondGap.push(c.at - b.at);
      }
      // Backoff: after attempt n the message waits base × 2^(n−1), half fixed, half random.
      // The first retry comes after the timeout plus 1–2 s, the second after the 500 plus 2–4 s.
      const min = (xs: number[]) => Math.min(...xs);
      assert.ok(min(firstGap) >= WEBHOOK_TIMEOUT_MS + BASE_DELAY_MS / 2 - SKEW_MS, `first retry too early: ${min(firstGap)} ms`);
      assert.ok(min(secondGap) >= BASE_DELAY_MS - SKEW_MS, `second retry too early: ${min(secondGap)} ms`);
      // The jitter spreads them: retries of messages that failed together do not all come back at once.
      const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
      assert.ok(spread(secondGap) >= BASE_DELAY_MS / 4, `second retries not spread: ${spread(secondGap)} ms`);

      const outbox = await rig.store.backend.db
        .selectFrom('outbox')
        .select(['attempts'])
        .where('journey_id', '=', (await rig.store.journeys.findByUuid(journey))?.id ?? -1)
        .execute();
      assert.deepEqual([...new Set(outbox.map((m) => m.attempts))], [3], 'three attempts recorded per message');
      const log = await rig.store.backend.db.selectFrom('message_deliveries').select(['outcome', 'attempts', 'response_code']).execute();
      assert.deepEqual(
        [...new Set(log.map((l) => `${l.outcome}/${l.attempts}/${l.response_code}`))],
        ['sent/3/200'],
        'the delivery log: sent at the third attempt',
      );
      rig.supervisor.assertNoUnexpectedExit();
      const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
      const p = (xs: number[], q: number) => sorted(xs)[Math.floor((xs.length - 1) * q)];
      console.log(
        `done in ${Date.now() - started} ms; first retry gap min/p50/max ${min(firstGap)}/${p(firstGap, 0.5)}/${Math.max(...firstGap)} ms, second ${min(secondGap)}/${p(secondGap, 0.5)}/${Math.max(...secondGap)} ms`,
      );
    });
  },
);
