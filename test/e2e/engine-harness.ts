import assert from 'node:assert/strict';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import { EntryWorker } from '../../src/engine/entry-worker.js';
import { Scheduler, type BatchReport } from '../../src/engine/scheduler.js';
import { createLogger } from '../../src/logger.js';
import type { Dialect } from '../../src/store/backend.js';
import { startTestApp, TEST_APP_CODE, type TestContext } from '../support/app.js';
import { SINK_WEBHOOK_DESTINATIONS, SINK_WEBHOOK_POLICY } from '../support/http-sink.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * An application with its workers, as `journeyd serve` runs them: the HTTP
 * API (driven with fastify inject), the entry worker, the scheduler and the
 * dispatcher, all on one fresh database. Tests drive it over HTTP only and
 * observe HTTP: statistics, the delivery log, a webhook sink.
 */
export interface EngineApp extends TestContext {
  readonly scheduler: Scheduler;
  /** Starts the scheduler and the dispatcher of an app started with `workers: false`. */
  startWorkers(): Promise<void>;
  /** Every batch the scheduler committed. */
  readonly batches: readonly BatchReport[];
  /** Calls a Device API method; fails the test unless it answers 200. */
  device(method: string, request: Record<string, unknown>): Promise<unknown>;
  /** Creates a journey over HTTP and starts it; returns its uuid. */
  journey(points: readonly JourneyPoint[], params?: Record<string, unknown>, title?: string): Promise<string>;
  lifecycle(action: 'start' | 'pause' | 'finish' | 'draft', uuid: string): Promise<void>;
  /** POST /api/journey/{id}/start/external; returns the request uuid. */
  enter(journeyUuid: string, body: Record<string, unknown>): Promise<string>;
  statistics(journeyUuid: string): Promise<Statistics>;
  messages(journeyUuid: string, userId: string): Promise<DeliveredMessage[]>;
  /** Waits (bounded) until the journey's statistics satisfy `check`. */
  until(journeyUuid: string, what: string, check: (stats: Statistics) => boolean, timeoutMs?: number): Promise<Statistics>;
}

export interface JourneyPoint {
  uuid: string;
  title?: string;
  point_type: string;
  point_data: Record<string, unknown>;
  outputs: { key: string; next_point_uuid: string }[];
}

export interface PointStatistics {
  uuid: string;
  pointTitle: string;
  point_type: string;
  entered: number;
  in_point: number;
  passed: number;
  pointStat: { sent: number; failed: number };
}

export interface Statistics {
  title: string;
  totals: { entered: number; in_journey: number; exited: number };
  points: PointStatistics[];
  /** A point's statistics by uuid. */
  point(uuid: string): PointStatistics;
}

export interface DeliveredMessage {
  point_uuid: string;
  channel: string;
  recipient: string;
  hwid: string | null;
  status: 'sent' | 'failed';
  reason: string | null;
  content: Record<string, unknown>;
  created_at: string;
  delivered_at: string;
}

export interface EngineAppOptions {
  readonly batchSize?: number;
  /** False: the scheduler and the dispatcher are not started until `startWorkers()`. */
  readonly workers?: boolean;
}

export async function startEngineApp(dialect: Dialect, options: EngineAppOptions = {}): Promise<EngineApp> {
  // Its webhooks go to sinks on loopback, which the default destination policy refuses.
  const ctx = await startTestApp(dialect, { webhookDestinations: SINK_WEBHOOK_POLICY });
  const logger = createLogger('silent');
  const batches: BatchReport[] = [];
  // Short polls and a 100 ms retry base: a missed wake-up or a retry costs the test tenths of a second, not seconds.
  const entryWorker = new EntryWorker(ctx.store, { logger, pollIntervalMs: 100 });
  const scheduler = new Scheduler(ctx.store, {
    logger,
    batchSize: options.batchSize,
    pollIntervalMs: 250,
    onBatch: (report) => batches.push(report),
  });
  const dispatcher = new Dispatcher(ctx.store, logger, {
    pollIntervalMs: 100,
    retry: { baseDelayMs: 100 },
    webhookDestinations: SINK_WEBHOOK_DESTINATIONS,
  });
  await entryWorker.start();
  let workersStarted = false;
  const startWorkers = async () => {
    await scheduler.start();
    await dispatcher.start();
    workersStarted = true;
  };
  if (options.workers !== false) await startWorkers();

  const app: EngineApp = {
    ...ctx,
    scheduler,
    startWorkers,
    batches,
    async device(method, request) {
      const res = await ctx.request({
        method: 'POST',
        url: `/json/1.3/${method}`,
        payload: { request: { application: TEST_APP_CODE, ...request } },
      });
      assert.equal(res.statusCode, 200, `${method}: ${res.body}`);
      return res.json<{ response: unknown }>().response;
    },
    async journey(points, params = {}, title = 'Engine test') {
      const res = await ctx.request({
        method: 'POST',
        url: '/api/v3/journeygateway',
        payload: { title, params: { application_code: TEST_APP_CODE, ...params }, points },
      });
      assert.equal(res.statusCode, 200, res.body);
      const uuid = res.json<{ info: { uuid: string } }>().info.uuid;
      await app.lifecycle('start', uuid);
      return uuid;
    },
    async lifecycle(action, uuid) {
      const res = await ctx.request({ method: 'POST', url: `/api/v3/journeygateway/${action}`, payload: { uuid } });
      assert.equal(res.statusCode, 200, `${action}: ${res.body}`);
    },
    async enter(journeyUuid, body) {
      const res = await ctx.request({ method: 'POST', url: `/api/journey/${journeyUuid}/start/external`, payload: body });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ request_uuid: string }>().request_uuid;
    },
    async statistics(journeyUuid) {
      const res = await ctx.request({ method: 'GET', url: `/api/journey/${journeyUuid}/statistics/external` });
      assert.equal(res.statusCode, 200, res.body);
      const { payload } = res.json<{ payload: Omit<Statistics, 'point'> }>();
      return {
        ...payload,
        point(uuid) {
          const found = payload.points.find((p) => p.uuid === uuid);
          assert.ok(found, `no statistics for point ${uuid}`);
          return found;
        },
      };
    },
    async messages(journeyUuid, userId) {
      const res = await ctx.request({
        method: 'GET',
        url: `/api/journey/${journeyUuid}/messages?user_id=${encodeURIComponent(userId)}`,
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ payload: { items: DeliveredMessage[] } }>().payload.items;
    },
    async until(journeyUuid, what, check, timeoutMs = 15_000) {
      let last: Statistics | undefined;
      try {
        return await waitUntil(
          what,
          async () => {
            last = await app.statistics(journeyUuid);
            return check(last) ? last : undefined;
          },
          timeoutMs,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}; last statistics: ${JSON.stringify(last)}`);
      }
    },
    async close() {
      await entryWorker.stop();
      if (workersStarted) {
        await scheduler.stop();
        await dispatcher.stop();
      }
      await ctx.close();
    },
  };
  return app;
}

/** A point in the journey API's shape, its outputs given as `{key: next_point_uuid}`. */
export function point(
  uuid: string,
  pointType: string,
  pointData: Record<string, unknown>,
  outputs: Record<string, string> = {},
): JourneyPoint {
  return {
    uuid,
    title: uuid,
    point_type: `POINT_TYPE_${pointType}`,
    point_data: pointData,
    outputs: Object.entries(outputs).map(([key, next_point_uuid]) => ({ key, next_point_uuid })),
  };
}

export function exitPoint(uuid = 'exit'): JourneyPoint {
  return point(uuid, 'EXIT', { exit: {} });
}

const DAY_MS = 86_400_000;
const HOUR_S = 3_600;

/**
 * A device timezone (whole seconds, within the Device API's −12 h … +14 h)
 * whose clock reads `localMs` after midnight at `now`, and a function giving
 * the next instant (from `now`) at which that clock reads a time of day.
 */
export function deviceClockAt(localMs: number, now = Date.now()): { timezone: number; nextAt(timeOfDayMs: number): number } {
  let timezone = Math.floor((localMs - (now % DAY_MS)) / 1000);
  while (timezone > 14 * HOUR_S) timezone -= 24 * HOUR_S;
  while (timezone < -12 * HOUR_S) timezone += 24 * HOUR_S;
  const local = (((now + timezone * 1000) % DAY_MS) + DAY_MS) % DAY_MS;
  return { timezone, nextAt: (timeOfDayMs) => now + ((timeOfDayMs - local + DAY_MS) % DAY_MS) };
}

export const EIGHT_O_CLOCK_MS = 8 * HOUR_S * 1000;
export const NOON_MS = 12 * HOUR_S * 1000;
