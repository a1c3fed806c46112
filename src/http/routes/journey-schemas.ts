import { Type, type Static } from '@sinclair/typebox';
import { APPLICATION_CODE_PATTERN } from '../../domain/codes.js';
import { JOURNEY_STATUSES, POINT_TYPES, POINT_UUID_MAX_LENGTH } from '../../domain/journey.js';

/** The request and reply schemas of the journey routes (journeys.ts), which the OpenAPI document shows. */

export const TITLE_MAX_LENGTH = 255;

// Shapes only: what each point's point_data must hold is checked by `start`, so drafts may be incomplete.
const PointOutputSchema = Type.Object({
  key: Type.String({ minLength: 1 }),
  next_point_uuid: Type.String({ maxLength: POINT_UUID_MAX_LENGTH }),
});

const PointSchema = Type.Object({
  uuid: Type.String({ minLength: 1, maxLength: POINT_UUID_MAX_LENGTH }),
  title: Type.Optional(Type.String()),
  // A plain enum, not a union of literals, so a wrong value gets one readable error.
  point_type: Type.String({ enum: POINT_TYPES }),
  point_data: Type.Record(Type.String(), Type.Unknown()),
  outputs: Type.Array(PointOutputSchema),
});

const JourneyParamsSchema = Type.Object({
  application_code: Type.String({ pattern: APPLICATION_CODE_PATTERN.source }),
  allow_reenter: Type.Optional(Type.Boolean()),
  silent_hours: Type.Optional(Type.Object({ from: Type.String(), to: Type.String() })),
});

export const JourneyBodySchema = Type.Object({
  title: Type.String({ minLength: 1, maxLength: TITLE_MAX_LENGTH }),
  params: JourneyParamsSchema,
  points: Type.Array(PointSchema),
});
export type JourneyBody = Static<typeof JourneyBodySchema>;

export const JourneyUuidParams = Type.Object({ uuid: Type.String() });
export const JourneyUuidBody = Type.Object({ uuid: Type.String() });
export const ListQuery = Type.Object({
  page: Type.Optional(Type.String({ description: 'a whole number from 1, default 1; 20 journeys a page' })),
  status: Type.Optional(Type.String({ enum: JOURNEY_STATUSES, description: 'only journeys in this status' })),
});

const JourneyStatusSchema = Type.String({ enum: JOURNEY_STATUSES });

// As stored: what a client sent beyond the fields below (a canvas position, say) comes back as sent.
const AsSent = { additionalProperties: true } as const;
export const JourneyObject = Type.Object(
  {
    info: Type.Object({
      uuid: Type.String(),
      title: Type.String(),
      status: JourneyStatusSchema,
      created_at: Type.String({ description: 'ISO 8601, UTC' }),
      updated_at: Type.String({ description: 'ISO 8601, UTC' }),
      params: Type.Object(JourneyParamsSchema.properties, AsSent),
    }),
    points: Type.Array(
      Type.Object({ ...PointSchema.properties, outputs: Type.Array(Type.Object(PointOutputSchema.properties, AsSent)) }, AsSent),
    ),
  },
  { title: 'Journey' },
);

export const JourneyList = Type.Object({
  _metadata: Type.Object({ page: Type.Integer(), page_count: Type.Integer(), total_count: Type.Integer() }),
  payload: Type.Object({
    items: Type.Array(
      Type.Object({
        id: Type.String({ description: 'the journey uuid' }),
        title: Type.String(),
        status: JourneyStatusSchema,
        createdAt: Type.String(),
      }),
    ),
  }),
});

export const Deleted = Type.Object({ uuid: Type.String(), deleted: Type.Literal(true) });
