import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { RouteOptions } from 'fastify';
import { DEFAULT_HTTP_LIMITS } from '../../src/config.js';
import type { App } from '../../src/http/app.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { ServiceMetrics } from '../../src/service/metrics.js';
import { Store } from '../../src/store/store.js';

/**
 * `GET /openapi.json` and `GET /docs`: the document has every route the server registers, as it serves it
 * (only `/healthz`, which answers whenever the process does, has no error to document).
 */

interface Operation {
  readonly summary?: string;
  readonly tags?: string[];
  readonly security?: Record<string, string[]>[];
  readonly responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { version: string };
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { securitySchemes: Record<string, unknown> };
}

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** `/api/journey/:id/start/external` as OpenAPI writes it: `/api/journey/{id}/start/external`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

describe('OpenAPI document and reference page', () => {
  let store: Store;
  let app: App;
  const routes: RouteOptions[] = [];

  before(async () => {
    store = Store.open('sqlite::memory:');
    await store.migrate();
    const metrics = new ServiceMetrics({ outboxBacklog: () => store.outbox.dueBacklog() });
    app = buildServer({ store, logger: createLogger('silent'), metrics }, { limits: DEFAULT_HTTP_LIMITS, metricsToken: 'metrics-secret' });
    // Plugins register their routes at ready(), after this hook.
    app.addHook('onRoute', (route) => void routes.push(route));
    await app.ready();
  });

  after(async () => {
    await app.close();
    await store.close();
  });

  async function openApiDocument(): Promise<OpenApiDocument> {
    const reply = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(reply.statusCode, 200);
    return reply.json();
  }

  it('is served without a token as OpenAPI 3.1 with the package version and the three ways to authenticate', async () => {
    const document = await openApiDocument();
    assert.equal(document.openapi, '3.1.0');
    assert.equal(document.info.version, version);
    assert.deepEqual(Object.keys(document.components.securitySchemes).sort(), ['DeviceApiToken', 'MetricsToken', 'ServerApiToken']);
  });

  it('documents every route with a summary, a tag, its 200 reply and its errors, and the tokens it takes', async () => {
    const document = await openApiDocument();
    const documented = routes.filter((route) => !route.schema?.hide && ![route.method].flat().includes('HEAD'));
    assert.ok(documented.length >= 25, `only ${documented.length} routes seen`);
    for (const route of documented) {
      for (const method of [route.method].flat()) {
        const name = `${method} ${route.url}`;
        const operation = document.paths[openApiPath(route.url)]?.[method.toLowerCase()];
        assert.ok(operation, `${name} is not in the document`);
        assert.ok(operation.summary, `${name} has no summary`);
        assert.equal(operation.tags?.length, 1, `${name} has no tag`);
        const statuses = Object.keys(operation.responses);
        const unknownMethod = route.url === '/json/1.3/:method';
        assert.ok(unknownMethod || statuses.includes('200'), `${name} documents no 200 reply`);
        assert.ok(
          name === 'GET /healthz' || statuses.some((status) => status.startsWith('4') || status.startsWith('5')),
          `${name} documents no error reply`,
        );
        const authenticated = route.onRequest !== undefined || route.preHandler !== undefined;
        assert.equal(Boolean(operation.security?.length), authenticated, `${name}: security ${JSON.stringify(operation.security)}`);
      }
    }
  });

  it('gives each Device API method both its tokens and its envelopes', async () => {
    const operation = (await openApiDocument()).paths['/json/1.3/registerDevice']?.post;
    assert.deepEqual(operation?.security, [{ DeviceApiToken: [] }, { ServerApiToken: [] }]);
    const schemaTitle = (status: string) =>
      (operation?.responses[status]?.content?.['application/json']?.schema as { title?: string } | undefined)?.title;
    assert.equal(schemaTitle('200'), 'DeviceApiOk');
    assert.equal(schemaTitle('400'), 'DeviceApiError');
  });

  it('serves an interactive reference page whose assets come from journeyd itself', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(initializer.statusCode, 200);
    assert.match(initializer.body, /url: resolveUrl\('\.\/json'\)/);
    assert.doesNotMatch(page.body + initializer.body, /(src|href)=["']https?:/);
    const document = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.deepEqual(document.json(), await openApiDocument());
  });
});
