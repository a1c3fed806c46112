import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedWebhookUrl, renderedWebhookUrlCheck } from '../../src/domain/webhook-url.js';

describe('webhook URL templates', () => {
  it('fix scheme, host and port in the text before the first tag, closed by a path, query or fragment', () => {
    for (const [template, origin] of [
      ['https://hooks.example.com/u/{{ user_id }}', 'https://hooks.example.com'],
      ['http://HOOKS.example.com:8080?u={{ user_id }}', 'http://hooks.example.com:8080'],
      ['https://hooks.example.com#{% if x %}a{% endif %}', 'https://hooks.example.com'],
      ['https://hooks.example.com\\{{ user_id }}', 'https://hooks.example.com'],
      ['https://hooks.example.com', 'https://hooks.example.com'],
    ]) {
      const fixed = fixedWebhookUrl(template!);
      assert.equal(fixed.ok && fixed.value.origin, origin, template);
    }
    for (const template of [
      'http://hooks.example.invalid{{ p }}',
      'http://{{ host }}/',
      'http:///{{ p }}',
      'http://hooks.example.com:{{ port }}/',
      'http://user@{{ host }}/',
      'ftp://hooks.example.com/',
      ' https://hooks.example.com/',
    ]) {
      assert.equal(fixedWebhookUrl(template).ok, false, template);
    }
  });

  it('let a rendered URL be called within the fixed origin', () => {
    const template = 'https://hooks.example.com/{{ p }}?u={{ user_id }}';
    assert.equal(renderedWebhookUrlCheck(template)('https://hooks.example.com/@127.0.0.1:9999/x?u=ann'), undefined);
  });

  it('refuse a rendered URL whose host a value moved, as from a template saved before the rule', () => {
    assert.match(
      renderedWebhookUrlCheck('http://hooks.example.invalid{{ p }}')('http://hooks.example.invalid@127.0.0.1:9999/x') ?? '',
      /^webhook\.url must spell out its scheme, host and port before any template tag/,
    );
    assert.equal(
      renderedWebhookUrlCheck('https://hooks.example.com/{{ p }}')('https://other.example.com/x'),
      'webhook.url rendered to https://other.example.com, not its fixed origin https://hooks.example.com',
    );
  });
});
