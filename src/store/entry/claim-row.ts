import type { JourneyParams, Point } from '../../domain/journey.js';
import type { EntrySelectorKind, JourneyStatus } from '../schema.js';
import { isSet } from '../sql/flag.js';
import type { ClaimedEntryRequest } from './types.js';

/** A claimed request with its journey, as both dialects' claims select it. */
export interface ClaimRow {
  id: number;
  uuid: string;
  journey_id: number;
  journey_uuid: string;
  application_id: number;
  point_uuid: string;
  selector_kind: EntrySelectorKind;
  filter: string | null;
  id_count: number;
  attributes: string;
  audience_resolved: number;
  /** Claims so far, this one included. */
  attempts: number;
  journey_status: JourneyStatus;
  journey_params: string;
  journey_points: string;
}

export function toClaimedRequest(row: ClaimRow, owner: string): ClaimedEntryRequest {
  return {
    id: Number(row.id),
    uuid: row.uuid,
    journeyId: Number(row.journey_id),
    journeyUuid: row.journey_uuid,
    applicationId: Number(row.application_id),
    pointUuid: row.point_uuid,
    selectorKind: row.selector_kind,
    idCount: Number(row.id_count),
    filter: row.filter,
    attributes: row.attributes,
    audienceResolved: isSet(row.audience_resolved),
    attempts: row.attempts,
    owner,
    journey: {
      status: row.journey_status,
      params: JSON.parse(row.journey_params) as JourneyParams,
      points: JSON.parse(row.journey_points) as Point[],
    },
  };
}
