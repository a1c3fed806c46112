import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import { renderStrings, TemplateError } from '../../domain/templates.js';
import type { TagWrite } from '../../store/runs/index.js';
import { BatchScopes } from './render.js';
import { allLeave, type PointContext, type PreparedPoint } from './types.js';

/**
 * SET_TAGS: the tag values are rendered for each run and set on every
 * device of its user in the journey's application, in the batch's
 * transaction (undeclared tags are declared, as setTags does). Users whose
 * rendered values are the same are written together. A value invalid for
 * its tag's type skips that write and counts as failed; the run moves on.
 */
export function prepareSetTags(_context: PointContext, point: PointOf<'POINT_TYPE_SET_TAGS'>): PreparedPoint {
  const templates = point.point_data.set_tags.tags;
  return {
    async execute(runs, { access }) {
      const scopes = await BatchScopes.load(runs, access, [templates]);
      const writes = new Map<string, { userIds: string[]; tags: Record<string, string> }>();
      let failed = 0;
      for (const run of runs) {
        let tags: Record<string, string>;
        try {
          tags = renderStrings(templates, scopes.scope(run));
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          failed++;
          continue;
        }
        const key = JSON.stringify(tags);
        const write = writes.get(key);
        if (write) write.userIds.push(run.userId);
        else writes.set(key, { userIds: [run.userId], tags });
      }
      const tagWrites: TagWrite[] = [...writes.values()];
      return { decisions: allLeave(runs, DEFAULT_OUTPUT), tagWrites, failed };
    },
  };
}
