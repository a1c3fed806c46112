import type { Kysely, Selectable } from 'kysely';
import type { Backend } from '../backend.js';
import type { Database, DevicesTable } from '../schema.js';
import type { TagStore } from '../tags/index.js';

export interface Device {
  readonly id: number;
  readonly applicationId: number;
  readonly hwid: string;
  /** The owning user; equals hwid for a device registered without a userId. */
  readonly userId: string;
  readonly deviceType: number;
  readonly pushToken: string | null;
  readonly language: string | null;
  /** Offset from UTC in seconds. */
  readonly timezone: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * registerDevice: the device's type and whichever optional fields the client
 * sent. An absent field keeps the stored value; an absent or empty userId on a
 * new device makes the device its own user; an empty push_token means none.
 */
export interface DeviceRegistration {
  readonly hwid: string;
  readonly deviceType: number;
  readonly pushToken?: string;
  readonly language?: string;
  readonly timezone?: number;
  readonly userId?: string;
  readonly tags?: Readonly<Record<string, unknown>>;
}

/** registerUser: moves a device to a user, creating the device when its type is given. */
export interface UserAssignment {
  readonly hwid: string;
  /** Empty: the device becomes its own user again. */
  readonly userId: string;
  readonly deviceType?: number;
  readonly timezone?: number;
}

/** The devices a tag call addresses: one device, or every device of a user. */
export type DeviceTarget = { readonly hwid: string } | { readonly userId: string };

/**
 * Devices, their users and their tags. Each method is one transaction, so a
 * request that fails validation half-way writes nothing.
 */
export class DeviceStore {
  constructor(
    private readonly backend: Backend,
    private readonly tags: TagStore,
  ) {}

  async find(applicationId: number, hwid: string, db: Kysely<Database> = this.backend.db): Promise<Device | undefined> {
    const row = await db
      .selectFrom('devices')
      .selectAll()
      .where('application_id', '=', applicationId)
      .where('hwid', '=', hwid)
      .executeTakeFirst();
    return row && toDevice(row);
  }

  /** The user's devices, most recently updated first. */
  async findByUser(applicationId: number, userId: string, db: Kysely<Database> = this.backend.db): Promise<Device[]> {
    const rows = await db
      .selectFrom('devices')
      .selectAll()
      .where('application_id', '=', applicationId)
      .where('user_id', '=', userId)
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toDevice);
  }

  /** Creates or updates the device and applies its tags; throws InvalidTagError (nothing written) on a bad tag. */
  async register(applicationId: number, registration: DeviceRegistration): Promise<Device> {
    return this.backend.db.transaction().execute(async (trx) => {
      const now = Date.now();
      const { hwid, deviceType, pushToken, language, timezone, tags } = registration;
      const userId = registration.userId || undefined;
      const row = await trx
        .insertInto('devices')
        .values({
          application_id: applicationId,
          hwid,
          user_id: userId ?? hwid,
          device_type: deviceType,
          push_token: pushToken || null,
          language: language ?? null,
          timezone: timezone ?? null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(['application_id', 'hwid']).doUpdateSet({
            device_type: deviceType,
            updated_at: now,
            ...(userId !== undefined && { user_id: userId }),
            ...(pushToken !== undefined && { push_token: pushToken || null }),
            ...(language !== undefined && { language }),
            ...(timezone !== undefined && { timezone }),
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      if (tags) await this.tags.apply(applicationId, [row.id], tags, trx);
      return toDevice(row);
    });
  }

  /**
   * Clears the push token so the device receives no push; the device keeps its
   * user, tags and journeys. Returns false for an unknown device.
   */
  async unregister(applicationId: number, hwid: string): Promise<boolean> {
    const result = await this.backend.db
      .updateTable('devices')
      .set({ push_token: null, updated_at: Date.now() })
      .where('application_id', '=', applicationId)
      .where('hwid', '=', hwid)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Moves the device to `userId`. An unknown device is created when the
   * assignment carries its type (Pushwoosh allows registerUser before
   * registerDevice); otherwise the result is 'unknown_device' and nothing is written.
   */
  async assignUser(applicationId: number, assignment: UserAssignment): Promise<'assigned' | 'unknown_device'> {
    const { hwid, deviceType, timezone } = assignment;
    const userId = assignment.userId || hwid;
    const now = Date.now();
    if (deviceType === undefined) {
      const result = await this.backend.db
        .updateTable('devices')
        .set({ user_id: userId, updated_at: now, ...(timezone !== undefined && { timezone }) })
        .where('application_id', '=', applicationId)
        .where('hwid', '=', hwid)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n ? 'assigned' : 'unknown_device';
    }
    await this.backend.db
      .insertInto('devices')
      .values({
        application_id: applicationId,
        hwid,
        user_id: userId,
        device_type: deviceType,
        push_token: null,
        language: null,
        timezone: timezone ?? null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.columns(['application_id', 'hwid']).doUpdateSet({
          user_id: userId,
          device_type: deviceType,
          updated_at: now,
          ...(timezone !== undefined && { timezone }),
        }),
      )
      .execute();
    return 'assigned';
  }

  /**
   * Applies `tags` to the target's devices (every device of a user). Returns
   * false, writing nothing, when the target has no device; throws InvalidTagError
   * (nothing written) on a bad tag.
   */
  async setTags(applicationId: number, target: DeviceTarget, tags: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.backend.db.transaction().execute(async (trx) => {
      // Touching the devices first locks their rows (Postgres) before any device_tags row, the
      // order register() takes too: concurrent writes to one device then queue instead of
      // deadlocking or both inserting after both deleted.
      const touched = await trx
        .updateTable('devices')
        .set({ updated_at: Date.now() })
        .where('application_id', '=', applicationId)
        .where((eb) => ('hwid' in target ? eb('hwid', '=', target.hwid) : eb('user_id', '=', target.userId)))
        .returning('id')
        .execute();
      if (touched.length === 0) return false;
      await this.tags.apply(
        applicationId,
        touched.map((d) => d.id),
        tags,
        trx,
      );
      return true;
    });
  }

  /**
   * The target's decoded tags. For a user with several devices, each tag takes
   * its value from the most recently updated device that has it. Undefined for
   * a target without devices.
   */
  async getTags(applicationId: number, target: DeviceTarget): Promise<Record<string, unknown> | undefined> {
    const devices = await this.targetDevices(applicationId, target, this.backend.db);
    if (devices.length === 0) return undefined;
    return this.tags.read(devices.map((d) => d.id));
  }

  private async targetDevices(applicationId: number, target: DeviceTarget, db: Kysely<Database>): Promise<Device[]> {
    if ('hwid' in target) {
      const device = await this.find(applicationId, target.hwid, db);
      return device ? [device] : [];
    }
    return this.findByUser(applicationId, target.userId, db);
  }
}

function toDevice(row: Selectable<DevicesTable>): Device {
  return {
    id: row.id,
    applicationId: row.application_id,
    hwid: row.hwid,
    userId: row.user_id,
    deviceType: row.device_type,
    pushToken: row.push_token,
    language: row.language,
    timezone: row.timezone,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
