import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's child logger that becomes a pino child only when the request
 * logs: pino's `child()` serializes its bindings at once, and most requests
 * log nothing. A child of it stays deferred, with the bindings merged, until
 * either logs.
 */
export class DeferredChildLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions = {},
  ) {}

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }

  error(...args: unknown[]): void {
    this.write('error', args);
  }

  warn(...args: unknown[]): void {
    this.write('warn', args);
  }

  info(...args: unknown[]): void {
    this.write('info', args);
  }

  debug(...args: unknown[]): void {
    this.write('debug', args);
  }

  trace(...args: unknown[]): void {
    this.write('trace', args);
  }

  silent(): void {}

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  child(bindings: Bindings, options: ChildLoggerOptions = {}): FastifyBaseLogger {
    if (this.made) return this.made.child(bindings, options);
    const merged = { ...this.options, ...options };
    if (this.options.serializers && options.serializers) {
      merged.serializers = { ...this.options.serializers, ...options.serializers };
    }
    return new DeferredChildLogger(this.parent, { ...this.bindings, ...bindings }, merged);
  }

  private logger(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  private write(level: Level, args: unknown[]): void {
    const logger = this.logger();
    Reflect.apply(logger[level], logger, args);
  }
}
