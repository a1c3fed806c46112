import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebhookDestinationPolicy } from '../../src/domain/webhook-destination.js';

function policy(allowList: string): WebhookDestinationPolicy {
  const parsed = WebhookDestinationPolicy.fromAllowList(allowList);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return parsed.value;
}

const strict = WebhookDestinationPolicy.STRICT;
const hostOf = (url: string) => new URL(url).hostname;

describe('WebhookDestinationPolicy', () => {
  it('lets public addresses and host names through, and IPv6 forms of public IPv4 addresses', () => {
    for (const url of ['https://8.8.8.8/', 'https://[2001:4860:4860::8888]/', 'https://[::ffff:8.8.8.8]/', 'https://hooks.example.com/']) {
      assert.equal(strict.refusalOfHost(hostOf(url)), undefined, url);
    }
  });

  it('refuses addresses of special-purpose ranges it has no name for, by their range', () => {
    assert.match(strict.refusalOfHost(hostOf('http://192.0.2.1/'))!, /^192\.0\.2\.1 is a reserved address;/);
    assert.match(strict.refusalOfHost(hostOf('http://[2002:a9fe:a9fe::1]/'))!, /is a 6to4 address;/);
    assert.match(strict.refusalOfHost(hostOf('http://192.175.48.1/'))!, /is a special-purpose \(as112\) address;/);
  });

  it('judges resolved addresses by the same ranges, naming the host name', () => {
    assert.equal(
      strict.refusalOfResolvedAddress('hooks.example.com', '::ffff:169.254.169.254'),
      'hooks.example.com resolves to ::ffff:169.254.169.254, an IPv6 form of 169.254.169.254, a link-local address ' +
        '(cloud metadata service); the operator can allow it with JOURNEYD_WEBHOOK_ALLOW',
    );
    assert.equal(strict.refusalOfResolvedAddress('hooks.example.com', '93.184.215.14'), undefined);
  });

  it('allows the networks, addresses and host names of the allow-list, and nothing more', () => {
    const allowing = policy(' 10.0.0.0/8 , fd00::/8,192.168.1.7, ::1, Hooks.Internal., localhost ');
    for (const host of ['10.1.2.3', '[fd12::1]', '192.168.1.7', '[::1]', 'hooks.internal', 'HOOKS.INTERNAL.', 'localhost']) {
      assert.equal(allowing.refusalOfHost(host), undefined, host);
    }
    assert.equal(allowing.refusalOfHost('[::ffff:a01:203]'), undefined, 'an IPv6 form of an allowed IPv4 address');
    assert.equal(allowing.refusalOfResolvedAddress('hooks.internal', '127.0.0.1'), undefined, 'a listed name, whatever it resolves to');
    assert.equal(allowing.refusalOfResolvedAddress('other.example', '10.9.9.9'), undefined);
    for (const host of ['192.168.1.8', '127.0.0.1', '[fe80::1]', 'app.localhost']) assert.ok(allowing.refusalOfHost(host), host);
    assert.ok(allowing.refusalOfResolvedAddress('other.example', '127.0.0.1'));
  });

  it('reads an empty allow-list as the strict policy, and refuses entries that are no CIDR, address or host name', () => {
    assert.ok(policy(' , ').refusalOfHost('127.0.0.1'));
    for (const entry of ['127.1/8', '10.0.0.0/33', '::1/129', '10.0.0.0/x', 'a b', 'http://x', 'x:80', 'user@x', 'x/y', '127.1']) {
      assert.deepEqual(WebhookDestinationPolicy.fromAllowList(`10.0.0.0/8,${entry}`), {
        ok: false,
        error: `"${entry}" is neither a CIDR (10.0.0.0/8, fd00::/8), an IP address nor a host name`,
      });
    }
  });
});
