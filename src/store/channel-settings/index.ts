import type { Channel } from '../../domain/messages.js';
import type { Backend } from '../backend.js';

/** The provider an application chose for a channel, with its configuration (validated by src/channels/settings.ts). */
export interface StoredChannelSetting {
  readonly applicationId: number;
  readonly channel: Channel;
  readonly provider: string;
  readonly config: Record<string, unknown>;
  readonly updatedAt: number;
}

/** Per-application channel provider settings; a channel without a row uses its default provider. */
export class ChannelSettingsStore {
  constructor(private readonly backend: Backend) {}

  async get(applicationId: number, channel: Channel): Promise<StoredChannelSetting | undefined> {
    const row = await this.backend.db
      .selectFrom('channel_settings')
      .selectAll()
      .where('application_id', '=', applicationId)
      .where('channel', '=', channel)
      .executeTakeFirst();
    return row && toSetting(row);
  }

  async list(applicationId: number): Promise<StoredChannelSetting[]> {
    const rows = await this.backend.db
      .selectFrom('channel_settings')
      .selectAll()
      .where('application_id', '=', applicationId)
      .orderBy('channel')
      .execute();
    return rows.map(toSetting);
  }

  async set(applicationId: number, channel: Channel, provider: string, config: Record<string, unknown>): Promise<void> {
    const now = Date.now();
    const values = { provider, config: JSON.stringify(config), updated_at: now };
    await this.backend.db
      .insertInto('channel_settings')
      .values({ application_id: applicationId, channel, ...values })
      .onConflict((oc) => oc.columns(['application_id', 'channel']).doUpdateSet(values))
      .execute();
  }

  /** Returns the channel to its default provider; false when it had no setting. */
  async remove(applicationId: number, channel: Channel): Promise<boolean> {
    const result = await this.backend.db
      .deleteFrom('channel_settings')
      .where('application_id', '=', applicationId)
      .where('channel', '=', channel)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function toSetting(row: {
  application_id: number;
  channel: Channel;
  provider: string;
  config: string;
  updated_at: number;
}): StoredChannelSetting {
  return {
    applicationId: row.application_id,
    channel: row.channel,
    provider: row.provider,
    config: JSON.parse(row.config) as Record<string, unknown>,
    updatedAt: row.updated_at,
  };
}
