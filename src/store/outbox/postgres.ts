import { sql, type Kysely } from 'kysely';
import { messageIdempotencyKey } from '../../domain/messages.js';
import type { Database } from '../schema.js';
import type { OutboxBatch, OutboxInsert } from './types.js';

/**
 * The outbox insert on Postgres: one statement whatever the batch's size, the
 * per-message columns as arrays (`unnest`), the batch's bound once.
 */
export class PostgresOutboxInsert implements OutboxInsert {
  async insertMessages(executor: Kysely<Database>, batch: OutboxBatch, now: number): Promise<number> {
    const keys: string[] = [];
    const runIds: number[] = [];
    const userIds: string[] = [];
    const hwids: (string | null)[] = [];
    const recipients: string[] = [];
    const payloads: string[] = [];
    const deliverAts: number[] = [];
    for (const m of batch.items) {
      keys.push(messageIdempotencyKey(m.runId, batch.pointUuid, batch.channel, m.recipient));
      runIds.push(m.runId);
      userIds.push(m.userId);
      hwids.push(m.hwid);
      recipients.push(m.recipient);
      payloads.push(JSON.stringify(m.payload));
      deliverAts.push(m.deliverAt);
    }
    const result = await sql`
      INSERT INTO outbox (idempotency_key, application_id, journey_id, run_id, point_uuid, user_id, channel, hwid,
                          recipient, payload, status, next_attempt_at, created_at, updated_at)
      SELECT m.key, ${batch.applicationId}, ${batch.journeyId}, m.run_id, ${batch.pointUuid}, m.user_id,
             ${batch.channel}, m.hwid, m.recipient, m.payload, 'pending', m.deliver_at, ${now}, ${now}
      FROM unnest(${keys}::text[], ${runIds}::bigint[], ${userIds}::text[], ${hwids}::text[], ${recipients}::text[],
                  ${payloads}::text[], ${deliverAts}::bigint[])
        AS m(key, run_id, user_id, hwid, recipient, payload, deliver_at)
      ON CONFLICT (idempotency_key) DO NOTHING`.execute(executor);
    return Number(result.numAffectedRows ?? 0);
  }
}
