import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findUnstorableText, unstorableTextProblem } from '../../src/domain/text.js';

describe('unstorableTextProblem', () => {
  it('refuses NUL and lone surrogates, accepts paired ones', () => {
    assert.equal(unstorableTextProblem('a\u0000'), 'contains a NUL character');
    assert.equal(unstorableTextProblem('\ud800x'), 'contains a lone UTF-16 surrogate');
    assert.equal(unstorableTextProblem('x\udfff'), 'contains a lone UTF-16 surrogate');
    assert.equal(unstorableTextProblem('😀 ok'), undefined);
  });
});

describe('findUnstorableText', () => {
  it('names the first value at fault by its path, in document order', () => {
    const body = { payload: { users: ['ok', 'a\u0000', 'b\ud800'] }, later: '\u0000' };
    assert.equal(findUnstorableText(body, 'body'), 'body.payload.users[1] contains a NUL character');
    assert.equal(findUnstorableText({ tags: { 'a b': ['\udc00'] } }, 'body'), 'body.tags["a b"][0] contains a lone UTF-16 surrogate');
    assert.equal(findUnstorableText('\u0000', 'body'), 'body contains a NUL character');
  });

  it('names an object key at fault with its container', () => {
    assert.equal(findUnstorableText({ tags: { 'x\u0000': 1 } }, 'body'), 'body.tags has a key "x\\u0000" that contains a NUL character');
  });

  it('passes clean values of every JSON type', () => {
    assert.equal(findUnstorableText({ a: [1, true, null, { b: 'c' }], d: 2.5 }, 'query'), undefined);
    assert.equal(findUnstorableText(undefined, 'body'), undefined);
  });

  it('walks nesting far deeper than the call stack could', () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    assert.match(findUnstorableText(deep, 'body') ?? '', /^body(\[0\]){200000} contains a NUL character$/);
  });
});
