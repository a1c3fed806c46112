import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_HTTP_LIMITS, readConfig } from '../../src/config.js';

describe('settings read from the environment', () => {
  it('takes the HTTP limits from JOURNEYD_HTTP_*, each defaulting on its own', () => {
    assert.deepEqual(readConfig({}).http, DEFAULT_HTTP_LIMITS);
    const { http } = readConfig({
      JOURNEYD_HTTP_REQUEST_TIMEOUT_MS: '5000',
      JOURNEYD_HTTP_HEADERS_TIMEOUT_MS: '2000',
      JOURNEYD_HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
      JOURNEYD_HTTP_MAX_CONNECTIONS: '500',
    });
    assert.deepEqual(http, {
      requestTimeoutMs: 5_000,
      headersTimeoutMs: 2_000,
      keepAliveTimeoutMs: 65_000,
      idleTimeoutMs: DEFAULT_HTTP_LIMITS.idleTimeoutMs,
      maxConnections: 500,
    });
  });

  it('refuses a limit that is not a positive integer, and a headers timeout longer than the request timeout', () => {
    assert.throws(
      () => readConfig({ JOURNEYD_HTTP_MAX_CONNECTIONS: '0' }),
      /JOURNEYD_HTTP_MAX_CONNECTIONS must be a positive integer \(connections\), got "0"/,
    );
    assert.throws(() => readConfig({ JOURNEYD_HTTP_IDLE_TIMEOUT_MS: '1.5' }), /JOURNEYD_HTTP_IDLE_TIMEOUT_MS must be a positive integer/);
    assert.throws(
      () => readConfig({ JOURNEYD_HTTP_REQUEST_TIMEOUT_MS: '1000' }),
      /JOURNEYD_HTTP_HEADERS_TIMEOUT_MS \(10000\) must not exceed JOURNEYD_HTTP_REQUEST_TIMEOUT_MS \(1000\)/,
    );
  });

  it('serves metrics on a private interface when METRICS_HOST is set, else on HOST; the API port only with a token', () => {
    assert.deepEqual(
      [readConfig({ HOST: '0.0.0.0' }).metricsHost, readConfig({ HOST: '0.0.0.0', METRICS_HOST: '10.0.0.5' }).metricsHost],
      ['0.0.0.0', '10.0.0.5'],
    );
    assert.equal(readConfig({}).metricsToken, undefined);
    assert.equal(readConfig({ JOURNEYD_METRICS_TOKEN: 'scrape' }).metricsToken, 'scrape');
  });
});
