import type { Kysely } from 'kysely';
import {
  decodeTagValue,
  inferTagType,
  InvalidTagError,
  isTagType,
  planTagChange,
  tagNameProblem,
  type EncodedTagValue,
  type TagChange,
  type TagType,
} from '../../domain/tags.js';
import type { Backend } from '../backend.js';
import type { Database } from '../schema.js';
import { chunks } from '../sql/chunks.js';

/** A tag declared for one application. */
export interface TagDefinition {
  readonly id: number;
  readonly name: string;
  readonly type: TagType;
}

export type DeclareResult =
  | { readonly outcome: 'declared' | 'unchanged'; readonly definition: TagDefinition }
  | { readonly outcome: 'conflict'; readonly definition: TagDefinition };

/** Names per `IN (...)` list; well below SQLite's and Postgres' bound-parameter limits. */
const NAMES_PER_QUERY = 500;
/** device_tags rows per INSERT: 5 parameters each. */
const ROWS_PER_INSERT = 1000;

/**
 * Tag declarations (`tag_definitions`) and the tag values of devices
 * (`device_tags`). Every method takes an optional executor so that other
 * stores can call it inside their own transaction; without one it runs on the
 * backend's connection.
 */
export class TagStore {
  constructor(private readonly backend: Backend) {}

  async list(applicationId: number, db: Kysely<Database> = this.backend.db): Promise<TagDefinition[]> {
    const rows = await db
      .selectFrom('tag_definitions')
      .select(['id', 'name', 'type'])
      .where('application_id', '=', applicationId)
      .orderBy('name')
      .execute();
    return rows.map(toDefinition);
  }

  async find(applicationId: number, names: Iterable<string>, db: Kysely<Database> = this.backend.db): Promise<Map<string, TagDefinition>> {
    const found = new Map<string, TagDefinition>();
    for (const chunk of chunks([...new Set(names)], NAMES_PER_QUERY)) {
      const rows = await db
        .selectFrom('tag_definitions')
        .select(['id', 'name', 'type'])
        .where('application_id', '=', applicationId)
        .where('name', 'in', chunk)
        .execute();
      for (const row of rows) found.set(row.name, toDefinition(row));
    }
    return found;
  }

  /**
   * The definitions of the sampled tags, declaring each undeclared one with the
   * type its sample value implies (domain `inferTagType`). Safe under concurrency:
   * when two writers declare the same tag, the first type wins and both see it.
   * Throws InvalidTagError for an invalid tag name.
   */
  async resolve(
    applicationId: number,
    samples: ReadonlyMap<string, unknown>,
    db: Kysely<Database> = this.backend.db,
  ): Promise<Map<string, TagDefinition>> {
    for (const name of samples.keys()) {
      const problem = tagNameProblem(name);
      if (problem) throw new InvalidTagError(name, problem);
    }
    const definitions = await this.find(applicationId, samples.keys(), db);
    // Sorted, so that concurrent transactions declaring overlapping tags insert them in one
    // order and wait for each other instead of deadlocking (Postgres).
    const missing = [...samples].filter(([name]) => !definitions.has(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (missing.length === 0) return definitions;
    const now = Date.now();
    for (const chunk of chunks(missing, ROWS_PER_INSERT)) {
      await db
        .insertInto('tag_definitions')
        .values(chunk.map(([name, sample]) => ({ application_id: applicationId, name, type: inferTagType(sample), created_at: now })))
        .onConflict((oc) => oc.columns(['application_id', 'name']).doNothing())
        .execute();
    }
    for (const [name, definition] of await this.find(
      applicationId,
      missing.map(([name]) => name),
      db,
    )) {
      definitions.set(name, definition);
    }
    return definitions;
  }

  /** Declares a tag with an explicit type; an existing tag keeps its type (re-typing would orphan stored values). */
  async declare(applicationId: number, name: string, type: TagType, db: Kysely<Database> = this.backend.db): Promise<DeclareResult> {
    const problem = tagNameProblem(name);
    if (problem) throw new InvalidTagError(name, problem);
    const inserted = await db
      .insertInto('tag_definitions')
      .values({ application_id: applicationId, name, type, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['application_id', 'name']).doNothing())
      .returning(['id', 'name', 'type'])
      .executeTakeFirst();
    if (inserted) return { outcome: 'declared', definition: toDefinition(inserted) };
    const existing = (await this.find(applicationId, [name], db)).get(name);
    if (!existing) throw new Error(`tag "${name}" neither inserted nor found`);
    return { outcome: existing.type === type ? 'unchanged' : 'conflict', definition: existing };
  }

  /**
   * Applies a request's `tags` object to every device in `deviceIds`: declares
   * undeclared tags, validates every value against its tag's type and only then
   * writes. Replacing a tag deletes the devices' rows for it and inserts the new
   * ones, so the caller must run this in a transaction. Throws InvalidTagError
   * naming the first invalid tag, before any device row is written.
   */
  async apply(
    applicationId: number,
    deviceIds: readonly number[],
    tags: Readonly<Record<string, unknown>>,
    db: Kysely<Database> = this.backend.db,
  ): Promise<void> {
    const entries = Object.entries(tags);
    if (entries.length === 0 || deviceIds.length === 0) return;
    // Removing a tag that was never declared is a no-op, so null never declares a tag.
    const samples = new Map(entries.filter(([, raw]) => raw !== null));
    const declared = await this.resolve(applicationId, samples, db);
    const undeclaredNulls = entries.filter(([name, raw]) => raw === null && !declared.has(name)).map(([name]) => name);
    for (const [name, definition] of await this.find(applicationId, undeclaredNulls, db)) declared.set(name, definition);

    const changes: { tagId: number; change: TagChange }[] = [];
    for (const [name, raw] of entries) {
      const definition = declared.get(name);
      if (!definition) continue;
      const plan = planTagChange(name, definition.type, raw);
      if (!plan.ok) throw new InvalidTagError(name, plan.error);
      changes.push({ tagId: definition.id, change: plan.change });
    }
    await writeChanges(db, deviceIds, changes);
  }

  /**
   * Decoded tags, as a client sees them (getTags). With several devices (a
   * user's), each tag takes its value from the first device in `deviceIds` that has it.
   */
  async read(deviceIds: readonly number[], db: Kysely<Database> = this.backend.db): Promise<Record<string, unknown>> {
    if (deviceIds.length === 0) return {};
    const rows = await db
      .selectFrom('device_tags')
      .innerJoin('tag_definitions', 'tag_definitions.id', 'device_tags.tag_id')
      .select(['device_tags.device_id', 'tag_definitions.name', 'tag_definitions.type', 'int_value', 'real_value', 'text_value'])
      .where('device_tags.device_id', 'in', deviceIds)
      .orderBy('tag_definitions.name')
      .orderBy('text_value')
      .execute();
    const priority = new Map(deviceIds.map((id, index) => [id, index]));
    const byTag = new Map<string, { deviceId: number; type: TagType; values: EncodedTagValue[] }>();
    for (const row of rows) {
      const current = byTag.get(row.name);
      const rank = priority.get(row.device_id) ?? Infinity;
      if (current && (priority.get(current.deviceId) ?? Infinity) < rank) continue;
      if (!current || current.deviceId !== row.device_id) {
        byTag.set(row.name, { deviceId: row.device_id, type: toTagType(row.type), values: [storedValue(row)] });
      } else {
        current.values.push(storedValue(row));
      }
    }
    const result: Record<string, unknown> = {};
    for (const [name, { type, values }] of byTag) result[name] = decodeTagValue(type, values);
    return result;
  }
}

async function writeChanges(
  db: Kysely<Database>,
  deviceIds: readonly number[],
  changes: readonly { tagId: number; change: TagChange }[],
): Promise<void> {
  const replacedTagIds = changes.filter((c) => c.change.kind === 'replace').map((c) => c.tagId);
  if (replacedTagIds.length > 0) {
    await db.deleteFrom('device_tags').where('device_id', 'in', deviceIds).where('tag_id', 'in', replacedTagIds).execute();
  }
  // append and remove edit List elements (text values): both first delete the elements named,
  // so that appending an element the device already has keeps one row.
  for (const { tagId, change } of changes) {
    if (change.kind === 'replace' || change.values.length === 0) continue;
    await db
      .deleteFrom('device_tags')
      .where('device_id', 'in', deviceIds)
      .where('tag_id', '=', tagId)
      .where(
        'text_value',
        'in',
        change.values.map((v) => String(v.value)),
      )
      .execute();
  }
  const rows = changes
    .filter((c) => c.change.kind !== 'remove')
    .flatMap(({ tagId, change }) => deviceIds.flatMap((deviceId) => change.values.map((value) => toRow(deviceId, tagId, value))));
  for (const chunk of chunks(rows, ROWS_PER_INSERT)) await db.insertInto('device_tags').values(chunk).execute();
}

function toRow(deviceId: number, tagId: number, encoded: EncodedTagValue) {
  return {
    device_id: deviceId,
    tag_id: tagId,
    int_value: encoded.column === 'int_value' ? encoded.value : null,
    real_value: encoded.column === 'real_value' ? encoded.value : null,
    text_value: encoded.column === 'text_value' ? encoded.value : null,
  };
}

function storedValue(row: { int_value: number | null; real_value: number | null; text_value: string | null }): EncodedTagValue {
  if (row.int_value !== null) return { column: 'int_value', value: row.int_value };
  if (row.real_value !== null) return { column: 'real_value', value: row.real_value };
  if (row.text_value !== null) return { column: 'text_value', value: row.text_value };
  throw new Error('device_tags row with no value column set');
}

function toDefinition(row: { id: number; name: string; type: number }): TagDefinition {
  return { id: row.id, name: row.name, type: toTagType(row.type) };
}

function toTagType(stored: number): TagType {
  if (!isTagType(stored)) throw new Error(`tag_definitions.type ${stored} is not a tag type`);
  return stored;
}
