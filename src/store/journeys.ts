import type { Journey, JourneyParams, Point } from '../domain/journey.js';
import type { Backend } from './backend.js';
import type { JourneysTable } from './schema.js';
import type { Selectable } from 'kysely';

/** A journey as stored, with the ids other tables refer to. */
export interface StoredJourney {
  readonly id: number;
  readonly applicationId: number;
  readonly journey: Journey;
}

export class JourneyStore {
  constructor(private readonly backend: Backend) {}

  async findByUuid(uuid: string): Promise<StoredJourney | undefined> {
    const row = await this.backend.db.selectFrom('journeys').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return row && toStoredJourney(row);
  }
}

function toStoredJourney(row: Selectable<JourneysTable>): StoredJourney {
  return {
    id: row.id,
    applicationId: row.application_id,
    journey: {
      info: {
        uuid: row.uuid,
        title: row.title,
        status: row.status,
        created_at: new Date(row.created_at).toISOString(),
        updated_at: new Date(row.updated_at).toISOString(),
        params: JSON.parse(row.params) as JourneyParams,
      },
      points: JSON.parse(row.points) as Point[],
    },
  };
}
