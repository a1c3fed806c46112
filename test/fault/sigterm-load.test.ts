import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from '../support/wait-until.js';
import {
  assertExactlyOnce,
  importUsers,
  faultRig,
  postgresSkip,
  requestStatus,
  startExternal,
  startWebhookJourney,
  waitForJourneyDone,
} from './support.js';

/**
 * SIGTERM to a `journeyd serve` (role all: API and workers) while a client
 * sends it Start-by-API requests (three at a time, one journey each). It exits
 * 0; a replacement process started on the same database then takes the
 * client's requests and whatever work the first gave back. Every request
 * answered 200, by either, is in the rig.database, ends `done` with every user
 * entered, and its webhooks are delivered exactly once.
 */

const JOURNEYS = 30;
const USERS_PER_REQUEST = 300;
/** SIGTERM once this many requests have been answered 200. */
const ACCEPTED_BEFORE_SIGTERM = 8;

describe(
  `postgres: SIGTERM to the API process under Start-by-API load (${JOURNEYS} requests of ${USERS_PER_REQUEST} users)`,
  { skip: postgresSkip },
  () => {
    const rig = faultRig('postgres');

    it('loses no request answered 200: each is entered, by the process or its replacement', { timeout: 110_000 }, async () => {
      const started = Date.now();
      const users = await importUsers(rig.database.url, 't', USERS_PER_REQUEST);
      const first = await rig.supervisor.start('first', 'all');
      const journeys: string[] = [];
      for (let j = 0; j < JOURNEYS; j++) journeys.push(await startWebhookJourney(first.url as string, rig.sink, `t${j}`));

      // The client sends to the process that currently serves (the first, then the replacement); between the
      // two, `target` is a promise the replacement's start resolves.
      let target: Promise<string> = Promise.resolve(first.url as string);
      let replaced: (url: string) => void = () => {};
      const accepted = new Map<number, { uuid: string; by: string }>();
      const refused: string[] = [];
      let next = 0;
      const client = async () => {
        for (let j = next++; j < JOURNEYS; j = next++) {
          for (;;) {
            const url = await target;
            try {
              const reply = await startExternal(url, journeys[j] as string, users, 10_000);
              if (reply.status === 200) {
                accepted.set(j, { uuid: reply.body.request_uuid as string, by: url === first.url ? 'first' : 'replacement' });
                break;
              }
              assert.ok(reply.status === 503 || reply.status === 400, `journey ${j}: ${reply.status} ${JSON.stringify(reply.body)}`);
              refused.push(`${j}:${reply.status}`);
              // 400 = the one-per-minute limit: an earlier attempt was committed though its answer was lost.
              if (reply.status === 400) break;
            } catch (error) {
              refused.push(`${j}:${(error as Error).name}`);
            }
            // A refused or unanswered request is sent again after a pause, as a client would, rather than
            // spinning against a process that is stopping.
            await sleep(50);
          }
        }
      };
      const clients = [client(), client(), client()];

      // 60 s: a bound on 8 requests being answered, which takes about a second; it only names the failure.
      await waitUntil('requests accepted before the SIGTERM', () => accepted.size >= ACCEPTED_BEFORE_SIGTERM, 60_000);
      const sigtermAt = Date.now();
      const exit = await rig.supervisor.kill('first', 'SIGTERM');
      target = new Promise((resolve) => (replaced = resolve));
      const stopMs = Date.now() - sigtermAt;
      assert.equal(exit.code, 0, `the first process exits 0 after SIGTERM:\n${first.output().slice(-3000)}`);
      const acceptedByFirst = accepted.size;
      assert.ok(acceptedByFirst < JOURNEYS, 'the SIGTERM came while requests were still being sent');
      const replacement = await rig.supervisor.start('replacement', 'all');
      replaced(replacement.url as string);
      await Promise.all(clients);

      const url = replacement.url as string;
      for (const [j, { uuid }] of accepted) {
        // 60 s: a bound (each journey is 300 users, done in seconds); it only names the journey that hung.
        await waitForJourneyDone(rig.store, journeys[j] as string, users.length, 60_000);
        const status = await requestStatus(url, journeys[j] as string, uuid);
        assert.deepEqual([status.status, status.entered], ['done', users.length], `request ${j}: ${JSON.stringify(status)}`);
        const report = await assertExactlyOnce(rig.store, rig.sink, journeys[j] as string, `t${j}`, users);
        assert.equal(report.repeatedKeys, 0, 'a graceful stop repeats no delivery');
      }
      const requests = await rig.store.backend.db.selectFrom('entry_requests').select(['uuid', 'status', 'entered']).execute();
      assert.ok(requests.length >= accepted.size);
      assert.deepEqual(
        [...new Set(requests.map((r) => `${r.status}/${r.entered}`))],
        [`done/${users.length}`],
        'every committed request is entered',
      );
      rig.supervisor.assertNoUnexpectedExit();
      console.log(
        `done in ${Date.now() - started} ms; ${acceptedByFirst} accepted by the first process, ${accepted.size - acceptedByFirst} by its replacement; ` +
          `SIGTERM to exit ${stopMs} ms; refused on the way: ${refused.join(' ')}`,
      );
    });
  },
);
