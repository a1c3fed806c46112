import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import { tagValuesLimit, type MessageTemplates } from '../../domain/message-templates.js';
import type { TagWrite } from '../../store/runs/index.js';
import { BatchScopes } from './render.js';
import { allLeave, type PointContext, type PreparedPoint } from './types.js';

/**
 * SET_TAGS: the tag values are rendered for each run and set on every
 * device of its user in the journey's application, in the batch's
 * transaction (undeclared tags are declared, as setTags does). Users whose
 * rendered values are the same are written together. Values that cannot be
 * rendered, or are invalid for their tag's type, skip that write and count
 * as failed; the run moves on.
 */
export function prepareSetTags({ renderer }: PointContext, point: PointOf<'POINT_TYPE_SET_TAGS'>): PreparedPoint {
  const tagTemplates = point.point_data.set_tags.tags;
  const templates: MessageTemplates<{ tags: Record<string, string> }> = {
    tags: { template: tagTemplates, limit: tagValuesLimit(Object.keys(tagTemplates).length) },
  };
  return {
    async execute(runs, { access }) {
      const scopes = await BatchScopes.load(runs, access, templates);
      const rendered = await renderer.render(
        templates,
        runs.map((run) => scopes.scope(run)),
      );
      const writes = new Map<string, { userIds: string[]; tags: Record<string, string> }>();
      let failed = 0;
      runs.forEach((run, index) => {
        const outcome = rendered[index] as (typeof rendered)[number];
        if (!outcome.ok) {
          failed++;
          return;
        }
        const { tags } = outcome.message;
        const key = JSON.stringify(tags);
        const write = writes.get(key);
        if (write) write.userIds.push(run.userId);
        else writes.set(key, { userIds: [run.userId], tags });
      });
      const tagWrites: TagWrite[] = [...writes.values()];
      return { decisions: allLeave(runs, DEFAULT_OUTPUT), tagWrites, failed };
    },
  };
}
