import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SmtpEmailProvider } from '../../src/channels/smtp.js';
import { EMAIL_LIMIT, prepareMessage, renderMessage } from '../../src/domain/message-templates.js';
import { templateScope } from '../../src/domain/templates.js';
import { mailHeader, startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

const KEY = 'jd1-smtp-key';

describe('SMTP email provider', () => {
  let sink: SmtpSink;
  let provider: SmtpEmailProvider;
  before(async () => {
    sink = await startSmtpSink((address) => {
      if (address.startsWith('gone@')) return { code: 550, message: 'mailbox unavailable' };
      if (address.startsWith('busy@')) return { code: 451, message: 'try again later' };
      return undefined;
    });
    provider = new SmtpEmailProvider({ host: sink.host, port: sink.port, from: 'Shop <news@shop.example>', timeout_ms: 2000 });
  });
  after(async () => {
    await provider.close();
    await sink.close();
  });

  it('delivers the rendered subject and body, with the idempotency key as Message-ID', async () => {
    const scope = templateScope({ attributeValues: { promo_code: 'SUMMER25' }, tags: { Name: 'Ann' }, userId: 'u-1' });
    const result = await provider.deliver(
      {
        channel: 'email',
        recipient: 'ann@example.com',
        payload: renderMessage(
          prepareMessage({
            payload: { template: { subject: 'Hello {{ tags.Name }}', body: 'Your code is {{ promo_code }}.' }, limit: EMAIL_LIMIT },
          }),
          scope,
        ).payload,
      },
      KEY,
    );
    assert.deepEqual(result, { outcome: 'ok', responseCode: 250 });
    assert.equal(sink.mails.length, 1);
    const [mail] = sink.mails;
    assert.equal(mail!.from, 'news@shop.example');
    assert.deepEqual(mail!.to, ['ann@example.com']);
    assert.equal(mailHeader(mail!.raw, 'Subject'), 'Hello Ann');
    assert.equal(mailHeader(mail!.raw, 'Message-ID'), `<${KEY}@journeyd>`);
    assert.equal(mailHeader(mail!.raw, 'X-Idempotency-Key'), KEY);
    assert.match(mailHeader(mail!.raw, 'Content-Type') ?? '', /^text\/plain/);
    assert.match(mail!.raw, /Your code is SUMMER25\./);
  });

  it('sends a body with HTML tags as HTML', async () => {
    await provider.deliver(
      { channel: 'email', recipient: 'html@example.com', payload: { subject: 's', body: '<p>Hi <b>there</b></p>' } },
      KEY,
    );
    const mail = sink.mails.find((m) => m.to.includes('html@example.com'));
    assert.match(mailHeader(mail!.raw, 'Content-Type') ?? '', /^text\/html/);
  });

  it('fails permanently on a 5xx reply and retries on a 4xx reply', async () => {
    const gone = await provider.deliver({ channel: 'email', recipient: 'gone@example.com', payload: { subject: 's', body: 'b' } }, KEY);
    assert.equal(gone.outcome, 'permanent');
    assert.equal(gone.outcome === 'permanent' && gone.responseCode, 550);
    assert.match(gone.outcome === 'permanent' ? gone.error : '', /mailbox unavailable/);
    const busy = await provider.deliver({ channel: 'email', recipient: 'busy@example.com', payload: { subject: 's', body: 'b' } }, KEY);
    assert.equal(busy.outcome, 'retryable');
    assert.equal(busy.outcome === 'retryable' && busy.responseCode, 451);
  });

  it('retries when the server cannot be reached', async () => {
    const closed = await startSmtpSink();
    await closed.close();
    const unreachable = new SmtpEmailProvider({ host: closed.host, port: closed.port, from: 'news@shop.example', timeout_ms: 1000 });
    try {
      const result = await unreachable.deliver({ channel: 'email', recipient: 'a@example.com', payload: { subject: 's', body: 'b' } }, KEY);
      assert.equal(result.outcome, 'retryable');
    } finally {
      await unreachable.close();
    }
  });
});
