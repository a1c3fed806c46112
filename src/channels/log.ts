import type { Channel, OutboundMessageOf } from '../domain/messages.js';
import type { Logger } from '../logger.js';
import type { ChannelProvider, DeliveryResult } from './provider.js';

/**
 * Delivers by recording: the rendered message goes to the process log (and,
 * like every outcome, to the delivery log, whose entries show the message's
 * content). It is the default for push and SMS until a real push or SMS
 * gateway is configured, so journeys can be built and observed end to end.
 */
export class LogProvider<C extends Channel> implements ChannelProvider<C> {
  readonly name = 'log';

  constructor(private readonly logger: Logger) {}

  async deliver(message: OutboundMessageOf<C>, idempotencyKey: string): Promise<DeliveryResult> {
    this.logger.info(
      { channel: message.channel, recipient: message.recipient, idempotencyKey, content: message.payload },
      'message recorded by the log provider',
    );
    return { outcome: 'ok' };
  }

  async close(): Promise<void> {}
}
