import { Type } from '@sinclair/typebox';
import type { SegmentEntryView } from '../../store/entry/segments.js';
import { authenticate, grantOf } from '../auth.js';
import type { App, AppDeps } from '../app.js';
import { findVisibleJourney } from '../visible-journey.js';
import { errorReplies, SECURITY } from '../openapi.js';

const JourneyParams = Type.Object({ id: Type.String() });

const Count = Type.Integer({ minimum: 0 });

const Statistics = Type.Object({
  payload: Type.Object({
    title: Type.String(),
    totals: Type.Object({ entered: Count, in_journey: Count, exited: Count }),
    points: Type.Array(
      Type.Object({
        uuid: Type.String(),
        pointTitle: Type.String(),
        point_type: Type.String(),
        entered: Count,
        in_point: Count,
        passed: Count,
        pointStat: Type.Object({ sent: Count, failed: Count }),
        segment_entry: Type.Optional(
          Type.Object({
            status: Type.Union([
              Type.Literal('scheduled'),
              Type.Literal('processing'),
              Type.Literal('done'),
              Type.Literal('failed'),
              Type.Literal('cancelled'),
            ]),
            selected: Count,
            entered: Count,
            error: Type.Optional(Type.String()),
          }),
        ),
      }),
    ),
  }),
});

/**
 * `GET /api/journey/{id}/statistics/external` (docs/engine.md): totals counted
 * from the journey's runs, and per point the runs there now plus the counters
 * kept as runs enter, pass and send at it. Points are listed in the
 * journey's order, every point even with nothing counted yet.
 */
export async function statisticsRoutes(app: App, { store }: AppDeps): Promise<void> {
  app.get(
    '/api/journey/:id/statistics/external',
    {
      onRequest: authenticate(store, ['Api']),
      schema: {
        tags: ['journey data'],
        summary: "A journey's totals and per-point counters",
        security: [SECURITY.api],
        params: JourneyParams,
        response: { 200: Statistics, ...errorReplies([401, 404]) },
      },
    },
    async (request) => {
      const stored = await findVisibleJourney(store, grantOf(request), request.params.id);
      const { totals, points: counts } = await store.statistics.ofJourney(stored.id);
      const segmentEntries = await store.segmentEntry.ofJourney(stored.id);
      return {
        payload: {
          title: stored.journey.info.title,
          totals: { entered: totals.entered, in_journey: totals.inJourney, exited: totals.exited },
          points: stored.journey.points.map((point) => {
            const c = counts.get(point.uuid);
            return {
              uuid: point.uuid,
              pointTitle: point.title ?? '',
              point_type: point.point_type,
              entered: c?.entered ?? 0,
              in_point: c?.inPoint ?? 0,
              passed: c?.passed ?? 0,
              pointStat: { sent: c?.sent ?? 0, failed: c?.failed ?? 0 },
              ...segmentEntryBody(segmentEntries.get(point.uuid)),
            };
          }),
        },
      };
    },
  );
}

/** A START_BY_SEGMENT point's entry of this launch, once the journey has started; `error` when it failed or was cancelled. */
function segmentEntryBody(entry: SegmentEntryView | undefined) {
  if (!entry) return {};
  const { status, selected, entered, error } = entry;
  return { segment_entry: { status, selected, entered, ...(error === null ? {} : { error }) } };
}
