import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PUSH_PAYLOAD_LIMIT, type MessageTemplates } from '../../src/domain/message-templates.js';
import { RENDER_TIME_LIMIT_REASON, templateScope } from '../../src/domain/templates.js';
import { MessageRenderer } from '../../src/engine/rendering/message-renderer.js';

const users = ['u0', 'u1', 'slow', 'u3'];
const scopes = users.map((userId) => templateScope({ attributeValues: {}, tags: {}, userId }));
const push = (title: string): MessageTemplates<{ payload: { title: string; body: string } }> => ({
  payload: { template: { title, body: 'b' }, limit: PUSH_PAYLOAD_LIMIT },
});

describe('MessageRenderer', () => {
  // A hard limit well under Liquid's own 1 s, so only the watchdog can stop the slow render.
  const renderer = new MessageRenderer({ threads: 1, hardLimitMs: 500 });
  after(() => renderer.close());

  it('renders Liquid templates in a worker, in the order of the scopes', async () => {
    const outcomes = await renderer.render(push('Hi {{ user_id | upcase }}'), scopes);
    assert.deepEqual(
      outcomes,
      users.map((user) => ({ ok: true, message: { payload: { title: `Hi ${user.toUpperCase()}`, body: 'b' } } })),
    );
  });

  it('terminates a worker stuck in one filter call past the hard limit, keeps what came before, fails the rest', async () => {
    // Sorting three million numbers is one call Liquid cannot interrupt: seconds, and it would succeed.
    const template = '{{ user_id }}{% if user_id == "slow" %}{{ (1..3000000) | sort | first }}{% endif %}';
    const outcomes = await renderer.render(push(template), scopes);
    assert.deepEqual(outcomes, [
      { ok: true, message: { payload: { title: 'u0', body: 'b' } } },
      { ok: true, message: { payload: { title: 'u1', body: 'b' } } },
      { ok: false, reason: RENDER_TIME_LIMIT_REASON },
      { ok: false, reason: RENDER_TIME_LIMIT_REASON },
    ]);
    // The pool replaced the worker.
    assert.deepEqual(await renderer.render(push('{{ user_id | upcase }}'), scopes.slice(0, 1)), [
      { ok: true, message: { payload: { title: 'U0', body: 'b' } } },
    ]);
  });

  it('reports a message over its cap without failing the others', async () => {
    const template = '{% if user_id == "u1" %}{% for i in (1..100000) %}xxxxxxxxxx{% endfor %}{% endif %}ok';
    const outcomes = await renderer.render(push(template), scopes);
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 'ok' : o.reason)),
      ['ok', 'the push payload (title, body and data as JSON) renders to more than 4096 bytes', 'ok', 'ok'],
    );
  });
});
