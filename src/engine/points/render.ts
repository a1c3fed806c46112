import type { AttributeValues } from '../../domain/attributes.js';
import type { MessageTemplates } from '../../domain/message-templates.js';
import { templateScope, type TemplateScope } from '../../domain/templates.js';
import type { BatchReads, DueRun } from '../../store/runs/index.js';

/**
 * Template scopes for the runs of one batch: each run's attribute values
 * (parsed once per distinct JSON text — the runs of one entry request share
 * theirs), its user's tags and its user id. Tags are read, in one query for
 * the batch, only when one of the point's templates mentions `tags`.
 */
export class BatchScopes {
  private readonly attributes = new Map<string, AttributeValues>();

  private constructor(private readonly tags: ReadonlyMap<string, Record<string, unknown>>) {}

  static async load<T>(runs: readonly DueRun[], reads: BatchReads, templates: MessageTemplates<T>): Promise<BatchScopes> {
    const texts = Object.values<{ template: unknown }>(templates).map((part) => part.template);
    const tags = mentionsTags(texts) ? await reads.tagsOf(runs.map((run) => run.userId)) : new Map();
    return new BatchScopes(tags);
  }

  scope(run: DueRun): TemplateScope {
    let attributeValues = this.attributes.get(run.attributes);
    if (!attributeValues) {
      attributeValues = JSON.parse(run.attributes) as AttributeValues;
      this.attributes.set(run.attributes, attributeValues);
    }
    return templateScope({ attributeValues, tags: this.tags.get(run.userId) ?? NO_TAGS, userId: run.userId });
  }
}

const NO_TAGS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Whether any string inside `templates` (at any depth) mentions `tags`, so the batch needs its users' tags. */
function mentionsTags(templates: readonly unknown[]): boolean {
  let found = false;
  const visit = (value: unknown): void => {
    if (found) return;
    if (typeof value === 'string') found = value.includes('tags');
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(templates);
  return found;
}
