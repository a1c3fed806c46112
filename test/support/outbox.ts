import type { Kysely } from 'kysely';
import type { OutboundMessage } from '../../src/domain/messages.js';
import type { BatchMessage, OutboxBatch } from '../../src/store/outbox/index.js';
import type { Database } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';

/** A message to seed the outbox with, written whole: its own journey, point and channel. */
export interface SeedMessage {
  readonly applicationId: number;
  readonly journeyId: number;
  readonly runId: number;
  readonly pointUuid: string;
  readonly userId: string;
  readonly hwid?: string | null;
  readonly message: OutboundMessage;
  /** Now when omitted. */
  readonly deliverAt?: number;
}

/**
 * Seeds the outbox through the insert the scheduler's batches use
 * (`OutboxStore.enqueue`), in `executor`'s transaction or, without one, a
 * transaction of its own. Consecutive messages of one journey point and
 * channel make one batch, so the rows keep the order given. Returns how many
 * messages were new.
 */
export async function enqueueMessages(store: Store, messages: readonly SeedMessage[], executor?: Kysely<Database>): Promise<number> {
  const now = Date.now();
  const batches: (OutboxBatch & { items: BatchMessage[] })[] = [];
  for (const m of messages) {
    let batch = batches.at(-1);
    const { channel, recipient, payload } = m.message;
    if (
      batch?.applicationId !== m.applicationId ||
      batch.journeyId !== m.journeyId ||
      batch.pointUuid !== m.pointUuid ||
      batch.channel !== channel
    ) {
      batch = { applicationId: m.applicationId, journeyId: m.journeyId, pointUuid: m.pointUuid, channel, items: [] };
      batches.push(batch);
    }
    batch.items.push({ runId: m.runId, userId: m.userId, hwid: m.hwid ?? null, recipient, payload, deliverAt: m.deliverAt ?? now });
  }
  const enqueue = (trx: Kysely<Database>) => store.outbox.enqueue(batches, trx, now);
  return executor ? enqueue(executor) : store.backend.db.transaction().execute(enqueue);
}
