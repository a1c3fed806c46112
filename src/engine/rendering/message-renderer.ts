import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { interpolateMessage, prepareMessage, type MessageTemplates } from '../../domain/message-templates.js';
import { RENDER_TIME_LIMIT_MS, RENDER_TIME_LIMIT_REASON, TemplateError, type TemplateScope } from '../../domain/templates.js';
import { failRest, type RenderOutcome, type RenderTask } from './render-worker.js';

export type { RenderOutcome } from './render-worker.js';

/** The worker's module beside this one: render-worker.ts under tsx, render-worker.js in dist/. */
const WORKER_FILE = new URL(`./render-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
/** How often the watchdog looks at a task in a worker. */
const WATCHDOG_TICK_MS = 50;

export interface MessageRendererOptions {
  /** Worker threads at most (one per scheduler loop is enough: a loop waits for its batch's renders). */
  readonly threads?: number;
  /** How long one render may run in a worker before the worker is terminated (Liquid itself stops at RENDER_TIME_LIMIT_MS). */
  readonly hardLimitMs?: number;
  /** Each worker's heap (old generation), so no template can exhaust the server's memory. */
  readonly workerHeapMb?: number;
}

/**
 * Renders a point's messages for a batch without holding the event loop
 * (docs/messages.md, "Where templates render"): a message the
 * concatenation shortcut can render is rendered here; the rest go to a
 * pool of worker threads in one task per batch. A watchdog terminates a
 * worker whose render runs past the hard limit (the pool starts another);
 * that render and the rest of the task fail for the time limit, the ones it
 * had finished are rendered again.
 */
export class MessageRenderer {
  private readonly pool: Piscina;
  private readonly hardLimitMs: number;
  private readonly workerHeapMb: number;

  constructor(options: MessageRendererOptions = {}) {
    this.hardLimitMs = options.hardLimitMs ?? RENDER_TIME_LIMIT_MS + 250;
    this.workerHeapMb = options.workerHeapMb ?? 128;
    this.pool = new Piscina({
      filename: WORKER_FILE.href,
      // Started on the first render that needs Liquid, stopped after 30 s idle.
      minThreads: 0,
      maxThreads: options.threads ?? 1,
      idleTimeout: 30_000,
      resourceLimits: { maxOldGenerationSizeMb: this.workerHeapMb },
    });
  }

  /** One outcome per scope, in order: the rendered message, or why it failed. */
  async render<T>(templates: MessageTemplates<T>, scopes: readonly TemplateScope[]): Promise<RenderOutcome<T>[]> {
    const outcomes = new Array<RenderOutcome<T>>(scopes.length);
    const forLiquid: number[] = [];
    const prepared = prepareMessage(templates);
    scopes.forEach((scope, index) => {
      try {
        const message = interpolateMessage(prepared, scope);
        if (message === undefined) forLiquid.push(index);
        else outcomes[index] = { ok: true, message };
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        outcomes[index] = { ok: false, reason: error.message };
      }
    });
    if (forLiquid.length > 0) {
      const rendered = await this.renderInWorker(
        templates,
        forLiquid.map((index) => scopes[index] as TemplateScope),
      );
      forLiquid.forEach((index, i) => (outcomes[index] = rendered[i] as RenderOutcome<T>));
    }
    return outcomes;
  }

  /** Terminates the workers. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private async renderInWorker<T>(templates: MessageTemplates<T>, scopes: readonly TemplateScope[]): Promise<RenderOutcome<T>[]> {
    if (scopes.length === 0) return [];
    const progress = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const stuck = new AbortController();
    const watchdog = this.watch(progress, stuck);
    try {
      const task: RenderTask<T> = { templates, scopes, progress };
      return (await this.pool.run(task, { signal: stuck.signal })) as RenderOutcome<T>[];
    } catch (error) {
      const inProgress = Atomics.load(progress, 0) - 1;
      const reason = stuck.signal.aborted ? RENDER_TIME_LIMIT_REASON : outOfMemory(error) ? this.outOfMemoryReason() : undefined;
      if (reason === undefined || inProgress < 0) throw error;
      // The worker is gone with what it had rendered: the renders before the one that broke it are done again.
      const before = await this.renderInWorker(templates, scopes.slice(0, inProgress));
      return failRest(before, scopes.length, reason);
    } finally {
      clearInterval(watchdog);
    }
  }

  /** Aborts the task (terminating its worker) once one render has been in progress for longer than the hard limit. */
  private watch(progress: Int32Array, stuck: AbortController): NodeJS.Timeout {
    let seen = 0;
    let seenSince = performance.now();
    const timer = setInterval(() => {
      const current = Atomics.load(progress, 0);
      const now = performance.now();
      if (current !== seen) {
        seen = current;
        seenSince = now;
      } else if (current > 0 && now - seenSince > this.hardLimitMs) {
        stuck.abort();
      }
    }, WATCHDOG_TICK_MS);
    timer.unref();
    return timer;
  }

  private outOfMemoryReason(): string {
    return `the template ran out of memory while rendering (${this.workerHeapMb} MB per render worker)`;
  }
}

function outOfMemory(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
}
