import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateDeviceFields, type DeviceFieldsInput } from '../../src/domain/device.js';

describe('validateDeviceFields', () => {
  it('accepts a full device and leaves absent or null optional fields undefined', () => {
    assert.deepEqual(
      validateDeviceFields({
        hwid: 'h',
        userId: 'u',
        device_type: 21,
        push_token: 't',
        language: 'pt-BR',
        timezone: -12 * 3600,
      }),
      {
        ok: true,
        value: { hwid: 'h', userId: 'u', deviceType: 21, pushToken: 't', language: 'pt-BR', timezone: -43200 },
      },
    );
    assert.deepEqual(validateDeviceFields({ hwid: 'h', device_type: 1, userId: null, timezone: null }), {
      ok: true,
      value: { hwid: 'h', userId: undefined, deviceType: 1, pushToken: undefined, language: undefined, timezone: undefined },
    });
  });

  it('keeps empty userId and push_token, which mean "no user" and "no push token"', () => {
    const result = validateDeviceFields({ hwid: 'h', device_type: 3, userId: '', push_token: '' });
    assert.ok(result.ok);
    assert.equal(result.value.userId, '');
    assert.equal(result.value.pushToken, '');
  });

  const invalid: [DeviceFieldsInput, string][] = [
    [{ device_type: 3 }, 'hwid'],
    [{ hwid: '', device_type: 3 }, 'hwid'],
    [{ hwid: 7, device_type: 3 }, 'hwid'],
    [{ hwid: 'x'.repeat(256), device_type: 3 }, 'hwid'],
    [{ hwid: 'a\0b', device_type: 3 }, 'hwid'],
    [{ hwid: 'a\ud800', device_type: 3 }, 'hwid'],
    [{ hwid: 'h', device_type: 3, userId: '\udc00u' }, 'userId'],
    [{ hwid: 'h', device_type: 3, push_token: 't\ud800' }, 'push_token'],
    [{ hwid: 'h' }, 'device_type'],
    [{ hwid: 'h', device_type: 2 }, 'device_type'],
    [{ hwid: 'h', device_type: 3.5 }, 'device_type'],
    [{ hwid: 'h', device_type: '3' }, 'device_type'],
    [{ hwid: 'h', device_type: 3, userId: 5 }, 'userId'],
    [{ hwid: 'h', device_type: 3, push_token: ['t'] }, 'push_token'],
    [{ hwid: 'h', device_type: 3, language: 'english' }, 'language'],
    [{ hwid: 'h', device_type: 3, language: '' }, 'language'],
    [{ hwid: 'h', device_type: 3, timezone: 1.5 }, 'timezone'],
    [{ hwid: 'h', device_type: 3, timezone: 15 * 3600 }, 'timezone'],
    [{ hwid: 'h', device_type: 3, timezone: '3600' }, 'timezone'],
  ];
  for (const [input, field] of invalid) {
    it(`rejects ${JSON.stringify(input).slice(0, 60)} naming ${field}`, () => {
      const result = validateDeviceFields(input);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.field, field);
      assert.match(result.error.message, new RegExp(`^${field} `));
    });
  }
});
