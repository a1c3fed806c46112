import { hash } from 'node:crypto';

/**
 * The messages a journey produces, as they sit in the outbox and reach a
 * channel provider. Payloads are already rendered: the engine renders the
 * point's templates for the run when it enqueues, so what is delivered (and
 * shown in the delivery log) is exactly what was decided at that moment.
 */
export const CHANNELS = ['push', 'email', 'sms', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}

export interface PushPayload {
  title: string;
  body: string;
  data?: Record<string, unknown>;
}

export interface EmailPayload {
  subject: string;
  body: string;
}

export interface SmsPayload {
  body: string;
}

export interface WebhookPayload {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** Sent as the request body for POST; GET requests carry none. */
  body?: string;
}

export interface PayloadByChannel {
  push: PushPayload;
  email: EmailPayload;
  sms: SmsPayload;
  webhook: WebhookPayload;
}

/**
 * What a provider needs to deliver one message. `recipient` is the address in
 * the channel's own terms: the device's push token, the email address, the
 * phone number, the webhook URL.
 */
export type OutboundMessage = {
  [C in Channel]: { channel: C; recipient: string; payload: PayloadByChannel[C] };
}[Channel];

export type OutboundMessageOf<C extends Channel> = Extract<OutboundMessage, { channel: C }>;

/** Base-36 digits of the largest safe integer, so every run id has the same width. */
const RUN_ID_WIDTH = Number.MAX_SAFE_INTEGER.toString(36).length;

/**
 * The idempotency key of the message a run produces at a point for one
 * recipient. It has no attempt number in it: re-executing the point after a
 * crash yields the same key (so the outbox keeps one row), and every delivery
 * attempt sends the same key (so a provider can drop a repeat).
 */
export function messageIdempotencyKey(runId: number, pointUuid: string, channel: Channel, recipient: string): string {
  // 128 bits of SHA-256 keep the unique index small; collisions are out of reach.
  const digest = hash('sha256', `${runId}\u0000${pointUuid}\u0000${channel}\u0000${recipient}`, 'base64url');
  // The fixed-width run id in front makes a batch's keys neighbours in the unique
  // index instead of random pages: 1M runs through a push point took 32.9 s
  // instead of 55.8 s on SQLite (docs/engine.md).
  return `jd1-${runId.toString(36).padStart(RUN_ID_WIDTH, '0')}-${digest.slice(0, 22)}`;
}
