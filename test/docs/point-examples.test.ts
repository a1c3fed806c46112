import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { POINT_TYPES, type PointDraft } from '../../src/domain/journey.js';
import { expectedOutputKeys } from '../../src/domain/journey-validation/index.js';
import { parsePoint } from '../../src/domain/journey-validation/point-fields.js';
import { WebhookDestinationPolicy } from '../../src/domain/webhook-destination.js';

/** docs/journeys.md, "One point of each type": every example is a point `start` accepts, wired as its type needs. */

const JOURNEYS_DOC = fileURLToPath(new URL('../../docs/journeys.md', import.meta.url));

function examples(): PointDraft[] {
  const doc = readFileSync(JOURNEYS_DOC, 'utf8');
  const start = doc.indexOf('\n## One point of each type\n');
  assert.ok(start >= 0, 'docs/journeys.md has the section "One point of each type"');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  return [...section.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map(([, body]) => JSON.parse(body as string) as PointDraft);
}

describe('docs/journeys.md point examples', () => {
  const points = examples();

  it('show each point type once', () => {
    assert.deepEqual(
      points.map((point) => point.point_type),
      POINT_TYPES,
    );
  });

  for (const draft of points) {
    it(`${draft.point_type} passes the start check with the outputs its type needs`, () => {
      const point = parsePoint(draft, { journeyUuid: 'docs', webhookDestinations: WebhookDestinationPolicy.STRICT });
      assert.deepEqual(
        draft.outputs.map((output) => output.key),
        expectedOutputKeys(point),
      );
    });
  }
});
