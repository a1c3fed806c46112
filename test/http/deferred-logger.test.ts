import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DeferredChildLogger } from '../../src/http/deferred-logger.js';

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  let children = 0;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the `this` it was called on.
  const child = logger.child;
  // pino's children inherit from their parent, so this counts every child made at any depth.
  logger.child = function (this: typeof logger, ...args: Parameters<typeof logger.child>) {
    children++;
    return child.apply(this, args);
  } as typeof logger.child;
  return { logger, lines, children: () => children };
}

describe('DeferredChildLogger', () => {
  it('makes no pino child until it logs, then writes every binding of its chain once', () => {
    const { logger, lines, children } = recordingLogger();
    const request = new DeferredChildLogger(logger, { reqId: 'req-1' }).child({ journey_id: 'j-1' });
    assert.equal(children(), 0);

    request.warn({ attempt: 2 }, 'retrying %s', 'now');
    request.info('second line');
    assert.equal(children(), 1);
    assert.equal(lines.length, 2);
    assert.deepEqual(
      [lines[0]?.reqId, lines[0]?.journey_id, lines[0]?.attempt, lines[0]?.msg, lines[0]?.level],
      ['req-1', 'j-1', 2, 'retrying now', 40],
    );
    assert.deepEqual([lines[1]?.reqId, lines[1]?.journey_id, lines[1]?.msg], ['req-1', 'j-1', 'second line']);
  });

  it('keeps its level and the parent level filtering until it logs', () => {
    const { logger, lines, children } = recordingLogger();
    const quiet = new DeferredChildLogger(logger, { reqId: 'req-2' }, { level: 'error' });
    assert.equal(quiet.level, 'error');
    quiet.warn('filtered');
    assert.equal(lines.length, 0);
    quiet.error('kept');
    assert.equal(children(), 1);
    assert.deepEqual([lines[0]?.reqId, lines[0]?.msg], ['req-2', 'kept']);
    const inherited = new DeferredChildLogger(logger, {});
    assert.equal(inherited.level, 'info');
  });

  it('gives a real child once it has one', () => {
    const { logger, lines } = recordingLogger();
    const request = new DeferredChildLogger(logger, { reqId: 'req-3' });
    request.info('first');
    request.child({ step: 'after' }).info('from the child');
    assert.deepEqual([lines[1]?.reqId, lines[1]?.step, lines[1]?.msg], ['req-3', 'after', 'from the child']);
  });

  it('applies the serializers of every deferred level of its chain', () => {
    const { logger, lines } = recordingLogger();
    const upper = (value: unknown) => String(value).toUpperCase();
    const reversed = (value: unknown) => [...String(value)].reverse().join('');
    new DeferredChildLogger(logger, {}, { serializers: { a: upper } })
      .child({}, { serializers: { b: reversed } })
      .info({ a: 'x', b: 'xy' }, 'serialized');
    assert.deepEqual([lines[0]?.a, lines[0]?.b], ['X', 'yx']);
  });
});
