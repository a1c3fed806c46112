import type { Channel, OutboundMessageOf } from '../domain/messages.js';

/**
 * What one delivery attempt came to. `retryable` failures are tried again
 * later (with `retryAfterMs` as a floor when the receiver asked for one);
 * `permanent` ones end the message as failed.
 */
export type DeliveryResult =
  | { readonly outcome: 'ok'; readonly responseCode?: number }
  | {
      readonly outcome: 'retryable';
      readonly error: string;
      readonly responseCode?: number;
      readonly retryAfterMs?: number;
    }
  | { readonly outcome: 'permanent'; readonly error: string; readonly responseCode?: number };

/** Delivers messages of one channel. */
export interface ChannelProvider<C extends Channel> {
  /** The provider's name as settings and the delivery log spell it: `http`, `smtp`, `log`. */
  readonly name: string;
  /**
   * One attempt. `idempotencyKey` is the same on every attempt at the same
   * message; providers pass it on so the receiver can drop a repeat.
   * Never throws: every failure is a DeliveryResult.
   */
  deliver(message: OutboundMessageOf<C>, idempotencyKey: string): Promise<DeliveryResult>;
  /** Releases connections; called once when the dispatcher stops. */
  close(): Promise<void>;
}
