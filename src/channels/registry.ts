import type { Channel, OutboundMessage } from '../domain/messages.js';
import type { Logger } from '../logger.js';
import type { ChannelSettingsStore } from '../store/channel-settings/index.js';
import { LogProvider } from './log.js';
import type { ChannelProvider, DeliveryResult } from './provider.js';
import { defaultChannelSetting, parseChannelSetting, DEFAULT_PROVIDER, type ChannelSetting } from './settings.js';
import { SmtpEmailProvider } from './smtp.js';
import { HttpWebhookProvider } from './webhook.js';
import { DEFAULT_WEBHOOK_DESTINATIONS, type WebhookDestinations } from './webhook-destinations.js';

export interface ChannelProvidersOptions {
  /** How long an application's settings are reused before being read again; default 10 s. */
  readonly settingsTtlMs?: number;
  /** Where webhooks may be delivered; DEFAULT_WEBHOOK_DESTINATIONS when omitted. */
  readonly webhookDestinations?: WebhookDestinations;
}

type AnyProvider = ChannelProvider<Channel>;
type Resolution = { readonly provider: AnyProvider } | { readonly providerName: string; readonly error: string };

/**
 * Finds the provider that delivers an application's channel, from its stored
 * setting or the channel's default, and keeps one provider (with its
 * connections) per distinct configuration until closed. Settings are re-read
 * after `settingsTtlMs`, so `journeyd channels set` takes effect without a restart.
 */
export class ChannelProviders {
  private readonly settingsTtlMs: number;
  private readonly webhookDestinations: WebhookDestinations;
  private readonly resolved = new Map<string, { expiresAt: number; resolution: Promise<Resolution> }>();
  private readonly providers = new Map<string, AnyProvider>();

  constructor(
    private readonly settings: ChannelSettingsStore,
    private readonly logger: Logger,
    options: ChannelProvidersOptions = {},
  ) {
    this.settingsTtlMs = options.settingsTtlMs ?? 10_000;
    this.webhookDestinations = options.webhookDestinations ?? DEFAULT_WEBHOOK_DESTINATIONS;
  }

  /** One delivery attempt through the application's provider for the message's channel. */
  async deliver(
    applicationId: number,
    message: OutboundMessage,
    idempotencyKey: string,
  ): Promise<{ provider: string; result: DeliveryResult }> {
    let resolution: Resolution;
    try {
      resolution = await this.resolve(applicationId, message.channel);
    } catch (error) {
      return {
        provider: DEFAULT_PROVIDER[message.channel],
        result: { outcome: 'retryable', error: `reading channel settings failed: ${(error as Error).message}` },
      };
    }
    if ('error' in resolution) {
      return { provider: resolution.providerName, result: { outcome: 'permanent', error: resolution.error } };
    }
    // The provider was chosen by this message's channel, so it accepts this message.
    const result = await resolution.provider.deliver(message, idempotencyKey);
    return { provider: resolution.provider.name, result };
  }

  async close(): Promise<void> {
    const providers = [...this.providers.values()];
    this.providers.clear();
    this.resolved.clear();
    await Promise.all(providers.map((p) => p.close()));
  }

  private resolve(applicationId: number, channel: Channel): Promise<Resolution> {
    const key = `${applicationId}/${channel}`;
    const now = Date.now();
    const cached = this.resolved.get(key);
    if (cached && cached.expiresAt > now) return cached.resolution;
    const resolution = this.readSetting(applicationId, channel);
    this.resolved.set(key, { expiresAt: now + this.settingsTtlMs, resolution });
    resolution.catch(() => this.resolved.delete(key));
    return resolution;
  }

  private async readSetting(applicationId: number, channel: Channel): Promise<Resolution> {
    const stored = await this.settings.get(applicationId, channel);
    if (!stored) {
      const fallback = defaultChannelSetting(channel);
      if (fallback) return { provider: this.providerFor(fallback) };
      return {
        providerName: DEFAULT_PROVIDER[channel],
        error:
          `the ${channel} channel is not configured for this application; ` +
          `set it with: journeyd channels set --app CODE --channel ${channel} --config '{...}'`,
      };
    }
    const parsed = parseChannelSetting(channel, stored.provider, stored.config);
    if (!parsed.ok) return { providerName: stored.provider, error: `invalid ${channel} channel setting: ${parsed.error}` };
    return { provider: this.providerFor(parsed.value) };
  }

  private providerFor(setting: ChannelSetting): AnyProvider {
    const key = `${setting.provider}:${JSON.stringify(setting.config)}`;
    let provider = this.providers.get(key);
    if (!provider) {
      provider = this.createProvider(setting);
      this.providers.set(key, provider);
    }
    return provider;
  }

  private createProvider(setting: ChannelSetting): AnyProvider {
    switch (setting.provider) {
      case 'log':
        return new LogProvider(this.logger.child({ provider: 'log' }));
      case 'http':
        return new HttpWebhookProvider(setting.config, this.webhookDestinations);
      case 'smtp':
        return new SmtpEmailProvider(setting.config);
    }
  }
}
