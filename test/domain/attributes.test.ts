import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileEntryAttributes, type EntryAttributes, mergeAttributeValues } from '../../src/domain/attributes.js';
import type { ApiAttribute } from '../../src/domain/journey.js';

function entryAttributes(attributes: ApiAttribute[] | undefined): EntryAttributes {
  const compiled = compileEntryAttributes(attributes);
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
  return compiled.value;
}

function refusal(attributes: unknown): string {
  const compiled = compileEntryAttributes(attributes as ApiAttribute[]);
  assert.ok(!compiled.ok, 'expected the attributes to be refused');
  return compiled.error;
}

describe('compileEntryAttributes', () => {
  it('names the attribute and the problem', () => {
    assert.equal(refusal({ promo_code: 'X' }), 'start_by_api.attributes must be a list of {name, default?}');
    assert.equal(refusal([{ default: 'X' }]), 'start_by_api.attributes[0].name must be a non-empty string');
    assert.equal(
      refusal([{ name: 'promo_code' }, { name: 'promo_code', default: 'X' }]),
      'start_by_api.attributes[1].name "promo_code" is declared more than once',
    );
    assert.equal(refusal([{ name: 'promo_code', default: 25 }]), 'start_by_api.attributes[0].default must be a string');
  });

  it('keeps the names templates reserve for tags and the user', () => {
    assert.equal(refusal([{ name: 'tags' }]), 'start_by_api.attributes[0].name "tags" is reserved for templates (tags, user_id)');
    assert.equal(
      refusal([{ name: 'ok' }, { name: 'user_id', default: 'x' }]),
      'start_by_api.attributes[1].name "user_id" is reserved for templates (tags, user_id)',
    );
  });
});

describe('mergeAttributeValues', () => {
  const point = entryAttributes([{ name: 'promo_code', default: 'WELCOME' }, { name: 'discount', default: '10' }, { name: 'campaign' }]);

  it('takes defaults for values the request leaves out, and "" without a default', () => {
    assert.deepEqual(mergeAttributeValues(point, undefined), { promo_code: 'WELCOME', discount: '10', campaign: '' });
    assert.deepEqual(mergeAttributeValues(point, {}), { promo_code: 'WELCOME', discount: '10', campaign: '' });
  });

  it('lets the request’s values, even empty ones, override the defaults', () => {
    assert.deepEqual(mergeAttributeValues(point, { promo_code: 'SUMMER25', discount: '' }), {
      promo_code: 'SUMMER25',
      discount: '',
      campaign: '',
    });
  });

  it('keeps only declared attributes', () => {
    assert.deepEqual(mergeAttributeValues(point, { campaign: 'june', stray: 'x' }), {
      promo_code: 'WELCOME',
      discount: '10',
      campaign: 'june',
    });
  });

  it('has no attributes for a point that declares none', () => {
    assert.deepEqual(mergeAttributeValues(entryAttributes(undefined), { anything: 'x' }), {});
    assert.deepEqual(mergeAttributeValues(entryAttributes([]), { anything: 'x' }), {});
  });

  it('reads only the request’s own values', () => {
    const merged = mergeAttributeValues(entryAttributes([{ name: 'toString', default: 'd' }]), {});
    assert.deepEqual(merged, { toString: 'd' });
  });

  it('keeps an attribute named like an Object property as an ordinary value', () => {
    const merged = mergeAttributeValues(entryAttributes([{ name: '__proto__', default: 'd' }, { name: 'constructor' }]), {
      constructor: 'c',
    });
    assert.deepEqual(Object.entries(merged), [
      ['__proto__', 'd'],
      ['constructor', 'c'],
    ]);
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
  });
});
