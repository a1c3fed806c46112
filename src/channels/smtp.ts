import nodemailer, { type Transporter } from 'nodemailer';
import type { OutboundMessageOf } from '../domain/messages.js';
import type { ChannelProvider, DeliveryResult } from './provider.js';
import type { SmtpConfig } from './settings.js';

const DEFAULT_TIMEOUT_MS = 10_000;
/** nodemailer error codes that sending the same message again cannot fix. */
const PERMANENT_ERROR_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'EAUTH', 'ETLS']);

/**
 * Sends email over SMTP with nodemailer (a pooled connection per
 * configuration). The idempotency key becomes the Message-ID, which mail
 * systems use to recognise a repeat, and is also sent as
 * `X-Idempotency-Key`.
 *
 * A 5xx reply is a permanent failure (the server refused the message), a 4xx
 * reply or a connection problem is retried. A body containing HTML tags is
 * sent as HTML, anything else as plain text.
 */
export class SmtpEmailProvider implements ChannelProvider<'email'> {
  readonly name = 'smtp';
  private readonly transport: Transporter;

  constructor(private readonly config: SmtpConfig) {
    const timeout = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure ?? config.port === 465,
      ...(config.user === undefined ? {} : { auth: { user: config.user, pass: config.pass ?? '' } }),
      pool: true,
      maxConnections: 5,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  async deliver(message: OutboundMessageOf<'email'>, idempotencyKey: string): Promise<DeliveryResult> {
    const { subject, body } = message.payload;
    try {
      const info = (await this.transport.sendMail({
        from: this.config.from,
        to: message.recipient,
        subject,
        ...(looksLikeHtml(body) ? { html: body } : { text: body }),
        messageId: `<${idempotencyKey}@journeyd>`,
        headers: { 'X-Idempotency-Key': idempotencyKey },
      })) as { response?: string };
      return { outcome: 'ok', ...replyCode(info.response) };
    } catch (failure) {
      const e = failure as { code?: string; responseCode?: number; message?: string };
      const error = e.message ?? String(failure);
      const responseCode = typeof e.responseCode === 'number' ? { responseCode: e.responseCode } : {};
      if ((e.responseCode ?? 0) >= 500 || (e.responseCode === undefined && PERMANENT_ERROR_CODES.has(e.code ?? ''))) {
        return { outcome: 'permanent', error, ...responseCode };
      }
      return { outcome: 'retryable', error, ...responseCode };
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

function looksLikeHtml(body: string): boolean {
  return /<[a-z][a-z0-9]*(\s[^>]*)?\/?>/i.test(body);
}

/** The SMTP reply code at the start of the server's final answer, e.g. `250 OK: queued`. */
function replyCode(response: string | undefined): { responseCode?: number } {
  const match = /^(\d{3})\b/.exec(response ?? '');
  return match ? { responseCode: Number(match[1]) } : {};
}
