import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepthExceeds } from '../../src/http/json-body.js';

describe('jsonDepthExceeds', () => {
  it('counts objects and arrays alike, up to the limit inclusive', () => {
    assert.equal(jsonDepthExceeds('[{"a":[]}]', 3), false);
    assert.equal(jsonDepthExceeds('[{"a":[[]]}]', 3), true);
    assert.equal(jsonDepthExceeds('[[],[],[],[]]', 2), false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    assert.equal(jsonDepthExceeds('{"a":"[[[[{{{{"}', 1), false);
    assert.equal(jsonDepthExceeds('{"a":"\\"[[[["}', 1), false);
    assert.equal(jsonDepthExceeds('{"a\\\\":[[]]}', 2), true);
  });

  it('scans text nested a million deep without recursion, and leaves malformed text to the parser', () => {
    assert.equal(jsonDepthExceeds('['.repeat(1_000_000), 64), true);
    assert.equal(jsonDepthExceeds('"unterminated [[[[', 1), false);
  });
});
