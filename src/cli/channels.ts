import { parseArgs } from 'node:util';
import { DEFAULT_PROVIDER, defaultChannelSetting, parseChannelSetting, redactedConfig } from '../channels/settings.js';
import { readConfig } from '../config.js';
import { CHANNELS, isChannel, type Channel } from '../domain/messages.js';
import type { Store } from '../store/store.js';
import { openCommandStore } from './command.js';

export const CHANNELS_USAGE = `usage: journeyd channels list --app CODE
       journeyd channels set --app CODE --channel push|email|sms|webhook [--provider NAME] [--config JSON]
       journeyd channels reset --app CODE --channel push|email|sms|webhook`;

export interface ChannelsCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly databaseUrl: string;
}

/** Bad arguments, an unknown application or an invalid setting; nothing was written. */
class ChannelsUsageError extends Error {}

/**
 * `journeyd channels …`: shows and changes which provider delivers each
 * channel of an application (docs/messages.md). Returns the exit code:
 * 0 done, 2 bad input (nothing written), 1 unexpected failure.
 */
export async function runChannelsCommand(
  sub: string | undefined,
  args: string[],
  io: ChannelsCommandIo = { stdout: process.stdout, stderr: process.stderr, databaseUrl: readConfig().databaseUrl },
): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      options: {
        app: { type: 'string' },
        channel: { type: 'string' },
        provider: { type: 'string' },
        config: { type: 'string' },
      },
    });
    if (!values.app) throw new ChannelsUsageError('--app CODE is required');
    const appCode = values.app;
    const { store } = await openCommandStore(io.databaseUrl, 'existing', io.stderr);
    try {
      const application = await store.applications.findByCode(appCode);
      if (!application) throw new ChannelsUsageError(`no application ${appCode}`);
      switch (sub) {
        case 'list':
          for (const line of await describeSettings(store, application.id)) io.stdout.write(`${line}\n`);
          return 0;
        case 'set': {
          const channel = channelOption(values.channel);
          const provider = values.provider ?? DEFAULT_PROVIDER[channel];
          const parsed = parseChannelSetting(channel, provider, parseConfig(values.config ?? '{}'));
          if (!parsed.ok) throw new ChannelsUsageError(parsed.error);
          await store.channelSettings.set(application.id, channel, parsed.value.provider, parsed.value.config);
          io.stdout.write(`${appCode} ${channel}: ${provider} ${JSON.stringify(redactedConfig(parsed.value.config))}\n`);
          return 0;
        }
        case 'reset': {
          const channel = channelOption(values.channel);
          await store.channelSettings.remove(application.id, channel);
          io.stdout.write(`${appCode} ${channel}: back to the default provider (${DEFAULT_PROVIDER[channel]})\n`);
          return 0;
        }
        default:
          throw new ChannelsUsageError(sub ? `unknown command: channels ${sub}` : 'channels needs list, set or reset');
      }
    } finally {
      await store.close();
    }
  } catch (error) {
    if (error instanceof ChannelsUsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`journeyd: ${(error as Error).message}\n\n${CHANNELS_USAGE}\n`);
      return 2;
    }
    io.stderr.write(`journeyd: ${(error as Error).message}\n`);
    return 1;
  }
}

/** One line per channel: name, provider, configuration (secrets hidden), and whether it is the default. */
async function describeSettings(store: Store, applicationId: number): Promise<string[]> {
  const stored = new Map((await store.channelSettings.list(applicationId)).map((s) => [s.channel, s]));
  return CHANNELS.map((channel) => {
    const setting = stored.get(channel);
    if (setting) return `${channel}\t${setting.provider}\t${JSON.stringify(redactedConfig(setting.config))}`;
    const fallback = defaultChannelSetting(channel);
    return fallback
      ? `${channel}\t${fallback.provider}\t${JSON.stringify(fallback.config)}\t(default)`
      : `${channel}\t${DEFAULT_PROVIDER[channel]}\t(not configured: messages on this channel fail until it is set)`;
  });
}

function channelOption(raw: string | undefined): Channel {
  if (raw === undefined || !isChannel(raw)) {
    throw new ChannelsUsageError(`--channel must be one of ${CHANNELS.join(', ')}${raw === undefined ? '' : `, got "${raw}"`}`);
  }
  return raw;
}

function parseConfig(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw new ChannelsUsageError(`--config must be a JSON object: ${(error as Error).message}`);
  }
}
