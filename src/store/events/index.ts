import type { Backend } from '../backend.js';
import type { DeviceStore } from '../devices/index.js';
import type { EventReactionStore } from './reactions.js';

/**
 * Who an event is about. With an hwid the event belongs to that device and to
 * the device's user; with only a userId it belongs to the user (who must own
 * at least one device) and to no device in particular.
 */
export type EventSubject = { readonly hwid: string } | { readonly userId: string };

export interface EventInput {
  readonly subject: EventSubject;
  readonly name: string;
  /** A JSON object; stored as given. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds. */
  readonly occurredAt: number;
}

export type RecordOutcome =
  | { readonly recorded: true; readonly eventId: number; readonly userId: string; readonly deviceId: number | null }
  | { readonly recorded: false; readonly unknown: 'hwid' | 'userId' };

/** Events posted by clients (postEvent). */
export class EventStore {
  constructor(
    private readonly backend: Backend,
    private readonly devices: DeviceStore,
    private readonly reactions: EventReactionStore,
  ) {}

  /**
   * Stores one event in one transaction: the single place an event enters the
   * system, so that whatever reacts to events (journey entry, wait-for-event)
   * joins this transaction and commits with it. Writes nothing for a subject
   * that does not exist.
   */
  async record(applicationId: number, event: EventInput): Promise<RecordOutcome> {
    return this.backend.db.transaction().execute(async (trx) => {
      let userId: string;
      let deviceId: number | null = null;
      if ('hwid' in event.subject) {
        const device = await this.devices.find(applicationId, event.subject.hwid, trx);
        if (!device) return { recorded: false, unknown: 'hwid' };
        userId = device.userId;
        deviceId = device.id;
      } else {
        const owned = await trx
          .selectFrom('devices')
          .select('id')
          .where('application_id', '=', applicationId)
          .where('user_id', '=', event.subject.userId)
          .limit(1)
          .executeTakeFirst();
        if (!owned) return { recorded: false, unknown: 'userId' };
        userId = event.subject.userId;
      }
      const now = Date.now();
      const { id } = await trx
        .insertInto('events')
        .values({
          application_id: applicationId,
          device_id: deviceId,
          user_id: userId,
          name: event.name,
          attributes: JSON.stringify(event.attributes),
          occurred_at: event.occurredAt,
          received_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await this.reactions.react(trx, {
        applicationId,
        userId,
        name: event.name,
        attributes: event.attributes,
        now,
      });
      return { recorded: true, eventId: id, userId, deviceId };
    });
  }
}
