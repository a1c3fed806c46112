import { DEFAULT_OUTPUT, MATCHED_OUTPUT, type PointOf } from '../../domain/journey.js';
import { parseSeglang, SeglangError } from '../../domain/seglang/index.js';
import type { CompiledAudience } from '../../store/audience/index.js';
import type { PointContext, PreparedPoint } from './types.js';

/**
 * BOOLEAN_SPLITTER: runs whose user has a device of the journey's
 * application matching the filter leave by `output1`, the others by
 * `default` — one query for the whole batch. The filter is compiled per
 * batch (tag declarations may have changed, `daysago` counts from now). A
 * filter that no longer compiles (a tag re-declared with another type)
 * matches no one, with a warning, rather than stopping the journey.
 */
export async function prepareBooleanSplitter(
  { journey, now, store, logger }: PointContext,
  point: PointOf<'POINT_TYPE_BOOLEAN_SPLITTER'>,
): Promise<PreparedPoint> {
  const filter = point.point_data.boolean_splitter.filter;
  let audience: CompiledAudience | undefined;
  try {
    audience = await store.audience.compile(journey.applicationId, parseSeglang(filter), now);
  } catch (error) {
    if (!(error instanceof SeglangError)) throw error;
    logger.warn({ journey: journey.uuid, point: point.uuid, err: error }, 'split filter does not compile; no one matches');
  }
  return {
    async execute(runs, { access }) {
      const matched = audience
        ? await access.usersMatching(
            audience,
            runs.map((run) => run.userId),
          )
        : new Set<string>();
      return {
        decisions: runs.map((run) => ({
          kind: 'leave',
          runId: run.id,
          output: matched.has(run.userId) ? MATCHED_OUTPUT : DEFAULT_OUTPUT,
        })),
      };
    },
  };
}
