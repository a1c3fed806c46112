import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomToken } from '../../src/domain/codes.js';

describe('randomToken', () => {
  it('never begins with "-", which the CLI would read as an option (base64url did once in 64)', () => {
    for (let i = 0; i < 2_000; i++) assert.doesNotMatch(randomToken(), /^-/);
  });
});
