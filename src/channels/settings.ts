import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Channel } from '../domain/messages.js';
import { err, ok, type Result } from '../domain/result.js';

/**
 * Which providers can serve each channel, the default when an application has
 * set none, and each provider's configuration. Operators set them with
 * `journeyd channels set` (docs/messages.md).
 */
export const PROVIDERS_BY_CHANNEL = {
  push: ['log'],
  sms: ['log'],
  email: ['smtp', 'log'],
  webhook: ['http'],
} as const satisfies Record<Channel, readonly string[]>;

export type ProviderName<C extends Channel = Channel> = (typeof PROVIDERS_BY_CHANNEL)[C][number];

export const DEFAULT_PROVIDER: { readonly [C in Channel]: ProviderName<C> } = {
  push: 'log',
  sms: 'log',
  email: 'smtp',
  webhook: 'http',
};

const Milliseconds = Type.Integer({ minimum: 1, maximum: 300_000 });

export const LogConfig = Type.Object({}, { additionalProperties: false });

export const HttpConfig = Type.Object(
  {
    /** Whole-request timeout; default 10 s. */
    timeout_ms: Type.Optional(Milliseconds),
  },
  { additionalProperties: false },
);

export const SmtpConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
    secure: Type.Optional(Type.Boolean()),
    user: Type.Optional(Type.String()),
    pass: Type.Optional(Type.String()),
    /** The From address, e.g. `"Shop <news@shop.example>"`. */
    from: Type.String({ minLength: 3 }),
    /** Connection, greeting and socket timeout; default 10 s. */
    timeout_ms: Type.Optional(Milliseconds),
  },
  { additionalProperties: false },
);

export type HttpConfig = Static<typeof HttpConfig>;
export type SmtpConfig = Static<typeof SmtpConfig>;

const CONFIG_SCHEMAS: Record<ProviderName, TSchema> = { log: LogConfig, http: HttpConfig, smtp: SmtpConfig };

/** The defaults need no configuration except SMTP, which must be told its server. */
const DEFAULT_CONFIG: { readonly [C in Channel]: Record<string, unknown> | undefined } = {
  push: {},
  sms: {},
  email: undefined,
  webhook: {},
};

export type ChannelSetting =
  | { readonly provider: 'log'; readonly config: Static<typeof LogConfig> }
  | { readonly provider: 'http'; readonly config: HttpConfig }
  | { readonly provider: 'smtp'; readonly config: SmtpConfig };

/** Checks a provider choice and its configuration for a channel; the error names the field. */
export function parseChannelSetting(channel: Channel, provider: string, config: unknown): Result<ChannelSetting> {
  const allowed: readonly string[] = PROVIDERS_BY_CHANNEL[channel];
  if (!allowed.includes(provider)) {
    return err(`channel ${channel} has no provider "${provider}"; choose one of ${allowed.join(', ')}`);
  }
  const schema = CONFIG_SCHEMAS[provider as ProviderName];
  const problem = Value.Errors(schema, config).First();
  if (problem) {
    const field = problem.path === '' ? 'config' : `config${problem.path.replaceAll('/', '.')}`;
    return err(`${provider} ${field}: ${problem.message}`);
  }
  return ok({ provider, config } as ChannelSetting);
}

/** The setting a channel uses when the application has stored none; undefined when the default needs configuring. */
export function defaultChannelSetting(channel: Channel): ChannelSetting | undefined {
  const config = DEFAULT_CONFIG[channel];
  if (config === undefined) return undefined;
  const parsed = parseChannelSetting(channel, DEFAULT_PROVIDER[channel], config);
  if (!parsed.ok) throw new Error(`default setting of ${channel} is invalid: ${parsed.error}`);
  return parsed.value;
}

/** A setting for display: secrets replaced. */
export function redactedConfig(config: Record<string, unknown>): Record<string, unknown> {
  return 'pass' in config ? { ...config, pass: '***' } : config;
}
