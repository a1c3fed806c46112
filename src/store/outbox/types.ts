import type { Kysely } from 'kysely';
import type { Channel, OutboundMessage } from '../../domain/messages.js';
import type { Database } from '../schema.js';

// The outbox store's contract, apart from its facade (index.ts) so the dialect
// files import it without importing OutboxStore back.

/** A rendered message for the outbox; its batch names the journey, point and channel. */
export interface BatchMessage {
  readonly runId: number;
  readonly userId: string;
  readonly hwid: string | null;
  readonly recipient: string;
  readonly payload: unknown;
  readonly deliverAt: number;
}

/** A message whose templates could not be rendered: recorded as failed, with the reason, and never delivered. */
export interface UnrenderedMessage {
  readonly runId: number;
  readonly userId: string;
  readonly hwid: string | null;
  readonly recipient: string;
  readonly reason: string;
}

/** The messages one point of one journey produced on one channel: what the outbox inserts in one go. */
export interface OutboxBatch {
  readonly applicationId: number;
  readonly journeyId: number;
  readonly pointUuid: string;
  readonly channel: Channel;
  readonly items: readonly BatchMessage[];
  readonly unrendered?: readonly UnrenderedMessage[];
}

/** A message a dispatcher has claimed and must deliver. */
export interface ClaimedMessage {
  readonly id: number;
  readonly idempotencyKey: string;
  readonly applicationId: number;
  readonly journeyId: number;
  readonly pointUuid: string;
  readonly userId: string;
  readonly message: OutboundMessage;
  /** This attempt's number, from 1. */
  readonly attempt: number;
}

/** What happened to one claimed message. */
export type MessageOutcome =
  | { readonly id: number; readonly kind: 'sent'; readonly provider: string; readonly responseCode?: number }
  | {
      readonly id: number;
      readonly kind: 'failed';
      readonly provider: string;
      readonly reason: string;
      readonly responseCode?: number;
    }
  | { readonly id: number; readonly kind: 'retry'; readonly reason: string; readonly nextAttemptAt: number };

/** One entry of the delivery log, with the message it is about. */
export interface Delivery {
  readonly messageId: number;
  readonly pointUuid: string;
  readonly channel: OutboundMessage['channel'];
  readonly hwid: string | null;
  readonly recipient: string;
  readonly content: unknown;
  readonly outcome: 'sent' | 'failed';
  readonly provider: string;
  readonly reason: string | null;
  readonly responseCode: number | null;
  readonly attempts: number;
  readonly createdAt: number;
  readonly deliveredAt: number;
}

/** The outbox's one insert, one implementation per dialect (sqlite.ts, postgres.ts). */
export interface OutboxInsert {
  /**
   * Inserts the batch's messages as `pending`, through `executor`'s transaction, skipping any whose
   * idempotency key exists; returns how many were new.
   */
  insertMessages(executor: Kysely<Database>, batch: OutboxBatch, now: number): Promise<number>;
}
