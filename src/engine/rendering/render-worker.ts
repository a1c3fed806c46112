import { prepareMessage, renderMessage, type MessageTemplates } from '../../domain/message-templates.js';
import { TemplateError, TemplateTimeLimitError, type TemplateScope } from '../../domain/templates.js';

/**
 * The render worker (a worker thread of MessageRenderer's pool): renders one
 * point's messages that need Liquid, for every scope of a task, in order.
 */

/** What became of one message's render. */
export type RenderOutcome<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly reason: string };

/** The renders of one point's batch that need Liquid: one task, one round trip. */
export interface RenderTask<T> {
  readonly templates: MessageTemplates<T>;
  readonly scopes: readonly TemplateScope[];
  /** Shared with the pool's watchdog: 1 + the index of the render in progress (0 before the first). */
  readonly progress: Int32Array;
}

export default function renderTask<T>({ templates, scopes, progress }: RenderTask<T>): RenderOutcome<T>[] {
  const outcomes: RenderOutcome<T>[] = [];
  const prepared = prepareMessage(templates);
  for (const scope of scopes) {
    Atomics.store(progress, 0, outcomes.length + 1);
    try {
      outcomes.push({ ok: true, message: renderMessage(prepared, scope) });
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      outcomes.push({ ok: false, reason: error.message });
      // A template that ran out of time would for the other users too: they fail at once, so the batch stays short.
      if (error instanceof TemplateTimeLimitError) return failRest(outcomes, scopes.length, error.message);
    }
  }
  return outcomes;
}

/** `outcomes` completed to `length` with failures for `reason`. */
export function failRest<T>(outcomes: RenderOutcome<T>[], length: number, reason: string): RenderOutcome<T>[] {
  while (outcomes.length < length) outcomes.push({ ok: false, reason });
  return outcomes;
}
