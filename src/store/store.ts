import { ApplicationStore } from './applications/index.js';
import { DeviceImportStore } from './device-import/index.js';
import { ChannelSettingsStore } from './channel-settings/index.js';
import { OutboxStore } from './outbox/index.js';
import { EntryStore } from './entry/index.js';
import { StatisticsStore } from './statistics/index.js';
import { AudienceStore } from './audience/index.js';
import { FilterStore } from './filters/index.js';
import { DeviceStore } from './devices/index.js';
import { EventStore } from './events/index.js';
import { TagStore } from './tags/index.js';
import { JourneyStore } from './journeys/index.js';
import { RunStore } from './runs/index.js';
import { EventReactionStore } from './events/reactions.js';
import { SegmentEntryStore } from './entry/segments.js';
import { DropUsersStore } from './drop-users/index.js';
import { RUNS_DUE_CHANNEL, Wake } from './wake.js';
import type { Backend } from './backend.js';
import { hasAppliedMigrations, migrateToLatest, migrationsAreCurrent } from './migrator/index.js';
import { connectPostgres } from './postgres/connect.js';
import { connectSqlite } from './sqlite/connect.js';

export interface StoreOptions {
  /** Postgres pool size per process. */
  readonly poolSize?: number;
}

/**
 * The one storage interface of journeyd. Each area of the domain has its own
 * store object; all of them share one backend (SQLite or Postgres).
 */
export class Store {
  readonly applications: ApplicationStore;
  readonly journeys: JourneyStore;
  readonly deviceImport: DeviceImportStore;
  readonly outbox: OutboxStore;
  readonly channelSettings: ChannelSettingsStore;
  readonly entry: EntryStore;
  readonly statistics: StatisticsStore;
  readonly tags: TagStore;
  readonly devices: DeviceStore;
  readonly events: EventStore;
  readonly audience: AudienceStore;
  readonly filters: FilterStore;
  readonly runs: RunStore;
  /** Schedulers listen here for runs that became due outside their own moves. */
  readonly runWake: Wake;
  readonly eventReactions: EventReactionStore;
  readonly segmentEntry: SegmentEntryStore;
  readonly dropUsers: DropUsersStore;

  private constructor(readonly backend: Backend) {
    this.applications = new ApplicationStore(backend);
    this.runWake = new Wake(backend, RUNS_DUE_CHANNEL);
    this.eventReactions = new EventReactionStore(backend, this.runWake);
    this.segmentEntry = new SegmentEntryStore(backend, this.runWake);
    this.journeys = new JourneyStore(backend, [
      (trx, _from, to) => this.eventReactions.syncTriggers(trx, to),
      (trx, _from, to, now) => this.segmentEntry.onTransition(trx, to, now),
      (trx, _from, to, now) => this.runs.onTransition(trx, to, now),
    ]);
    this.deviceImport = new DeviceImportStore(backend);
    this.outbox = new OutboxStore(backend);
    this.channelSettings = new ChannelSettingsStore(backend);
    this.entry = new EntryStore(backend, this.runWake);
    this.statistics = new StatisticsStore(backend);
    this.tags = new TagStore(backend);
    this.devices = new DeviceStore(backend, this.tags);
    this.events = new EventStore(backend, this.devices, this.eventReactions);
    this.audience = new AudienceStore(backend);
    this.filters = new FilterStore(backend);
    this.runs = new RunStore(backend, this.outbox, this.tags, this.runWake);
    this.dropUsers = new DropUsersStore(backend, this.outbox);
  }

  get dialect(): Backend['dialect'] {
    return this.backend.dialect;
  }

  /** Opens `sqlite:<path>` or `postgres://…` without migrating. */
  static open(databaseUrl: string, options: StoreOptions = {}): Store {
    return new Store(openBackend(databaseUrl, options));
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.backend);
  }

  migrationsAreCurrent(): Promise<boolean> {
    return migrationsAreCurrent(this.backend);
  }

  /** Whether journeyd has set this database up: at least one migration is applied (reading changes nothing). */
  hasSchema(): Promise<boolean> {
    return hasAppliedMigrations(this.backend);
  }

  async close(): Promise<void> {
    await this.backend.db.destroy();
  }
}

function openBackend(databaseUrl: string, options: StoreOptions): Backend {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (path === '') throw new Error('JOURNEYD_DATABASE_URL "sqlite:" needs a file path, e.g. sqlite:./data/journeyd.db');
    return { dialect: 'sqlite', ...connectSqlite(path) };
  }
  if (databaseUrl.startsWith('postgres://') || databaseUrl.startsWith('postgresql://')) {
    return { dialect: 'postgres', ...connectPostgres(databaseUrl, options.poolSize) };
  }
  throw new Error(`JOURNEYD_DATABASE_URL must start with sqlite: or postgres://, got "${databaseUrl}"`);
}
