import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { createLogger } from '../../src/logger.js';
import { describeEachBackend } from '../support/backends.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { otherTenant } from '../support/journey-api.js';
import { waitUntil } from '../support/wait-until.js';
import { requestStatus, startExternal, type RequestStatus } from '../http/start-external-support.js';
import { apiEntry, createJourney, exitPoint, registerDevices } from './events-support.js';

const logger = createLogger('silent');

/** Ids an earlier version accepted and stored; Postgres's jsonb refuses both. */
const POISONED_IDS = { nul: 'a\u0000b', 'lone surrogate': 'a\udc00b' };

describeEachBackend('entry worker: a request it cannot process fails alone', (dialect) => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp(dialect);
  });
  after(() => ctx.close());

  /** A running API-entry journey of `app` with one device of user `user`; requests go with `headers`. */
  async function tenantJourney(app: string, user: string, headers: Record<string, string> = {}): Promise<string> {
    await registerDevices(ctx, [{ hwid: `hw-${user}`, userId: user }], app, headers);
    return createJourney(ctx, [apiEntry(), exitPoint()], { app, headers });
  }

  /** Stores a request as the store accepts it, past the HTTP checks, as the version before them stored it. */
  async function seedRequest(journeyUuid: string, ids: string[]): Promise<string> {
    const target = await ctx.store.journeys.findEntryTarget(journeyUuid);
    assert.ok(target);
    const outcome = await ctx.store.entry.accept({
      journeyId: target.id,
      applicationId: target.applicationId,
      pointUuid: 'api',
      selector: { kind: 'users', ids },
      attributes: {},
    });
    assert.ok(outcome.accepted);
    return outcome.requestUuid;
  }

  async function accept(journey: string, users: string[], headers: Record<string, string>): Promise<string> {
    const res = await startExternal(ctx, journey, { payload: { users } }, headers);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ request_uuid: string }>().request_uuid;
  }

  it('fails the poisoned requests after their attempts, with the reason, while two other applications are entered', async () => {
    const poisoned = await Promise.all(
      Object.values(POISONED_IDS).map(async (id, index) => {
        const journey = await tenantJourney(TEST_APP_CODE, `a${index}`);
        return { journey, request: await seedRequest(journey, [id, `a${index}`]) };
      }),
    );
    const others = await Promise.all(
      ['OTHER-0000B', 'OTHER-0000C'].map(async (app) => {
        const headers = await otherTenant(ctx, app, `token-${app}`);
        const journey = await tenantJourney(app, `user-${app}`, headers);
        return { journey, headers, request: await accept(journey, [`user-${app}`], headers) };
      }),
    );

    // A fresh worker, as after a restart, finds the poisoned requests first in line.
    const worker = new EntryWorker(ctx.store, { logger });
    await worker.start();
    try {
      const statusOf = (journey: string, request: string, headers: Record<string, string> = {}) =>
        requestStatus(ctx, journey, request, headers);
      const settled = (status: RequestStatus) => status.status === 'done' || status.status === 'failed';
      const entered = await waitUntil('the other applications entered', async () => {
        const statuses = await Promise.all(others.map(({ journey, request, headers }) => statusOf(journey, request, headers)));
        return statuses.every(settled) && statuses;
      });
      for (const status of entered) assert.deepEqual([status.status, status.entered], ['done', 1]);

      const outcomes = await waitUntil('the poisoned requests settled', async () => {
        const statuses = await Promise.all(poisoned.map(({ journey, request }) => statusOf(journey, request)));
        return statuses.every(settled) && statuses;
      });
      for (const status of outcomes) {
        if (dialect === 'postgres') {
          assert.equal(status.status, 'failed');
          assert.match(status.error ?? '', /^entry failed after 5 attempts: .*(Unicode|json)/i);
        } else {
          // SQLite's JSON keeps such an id: it is simply looked up and not found.
          assert.deepEqual([status.status, status.entered, status.skipped.unknown], ['done', 1, 1]);
        }
      }
    } finally {
      await worker.stop();
    }
  });
});
