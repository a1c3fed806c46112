import ipaddr from 'ipaddr.js';
import { err, ok, type Result } from './result.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = readonly [Address, number];

/** Cloud metadata services; their ranges refuse them anyway, this only names them in the reason. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', '192.0.0.192', 'fd00:ec2::254']);

/** ipaddr.js range names as a reason spells them; a range not listed is shown by its ipaddr.js name. */
const RANGE_NAMES: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified',
  broadcast: 'a broadcast',
  multicast: 'a multicast',
  linkLocal: 'a link-local',
  loopback: 'a loopback',
  carrierGradeNat: 'a carrier-grade NAT (100.64.0.0/10)',
  private: 'a private (RFC 1918)',
  reserved: 'a reserved',
  uniqueLocal: 'a unique-local (fc00::/7)',
  rfc6052: 'a NAT64',
  '6to4': 'a 6to4',
  teredo: 'a Teredo',
};

const HOW_TO_ALLOW = 'the operator can allow it with JOURNEYD_WEBHOOK_ALLOW';

/**
 * Which hosts a webhook may call (docs/messages.md#webhook-destinations):
 * public unicast addresses only, never `localhost` or `*.localhost`, unless
 * the operator's allow-list (`JOURNEYD_WEBHOOK_ALLOW`) names the network or
 * the host. An IPv6 address that embeds an IPv4 one (IPv4-mapped,
 * -translated, -compatible, NAT64 64:ff9b::/96) is judged by the IPv4 address.
 *
 * Hosts are given as a WHATWG URL reads them, which has already turned every
 * spelling of an IPv4 address (2852039166, 0xa9fea9fe, 0251.0376.0251.0376,
 * 127.1) into four decimal parts.
 */
export class WebhookDestinationPolicy {
  /** No allow-list: the policy of a process without JOURNEYD_WEBHOOK_ALLOW. */
  static readonly STRICT = new WebhookDestinationPolicy([], new Set());

  private constructor(
    private readonly allowedNetworks: readonly Network[],
    private readonly allowedHosts: ReadonlySet<string>,
  ) {}

  /** `JOURNEYD_WEBHOOK_ALLOW`: comma-separated CIDRs (10.0.0.0/8, fd00::/8), addresses and host names. */
  static fromAllowList(text: string): Result<WebhookDestinationPolicy> {
    const networks: Network[] = [];
    const hosts = new Set<string>();
    for (const item of text.split(',')) {
      const entry = item.trim();
      if (entry === '') continue;
      const network = parseNetwork(entry);
      const host = network ? undefined : parseHostName(entry);
      if (network) networks.push(network);
      else if (host !== undefined) hosts.add(host);
      else return err(`"${entry}" is neither a CIDR (10.0.0.0/8, fd00::/8), an IP address nor a host name`);
    }
    return ok(new WebhookDestinationPolicy(networks, hosts));
  }

  /**
   * Why a webhook may not call `hostname` (a WHATWG URL's `hostname`), or
   * undefined. Any other host name passes here: it is judged by the
   * addresses it resolves to when the message is sent.
   */
  refusalOfHost(hostname: string): string | undefined {
    const name = normalName(hostname);
    if (this.allowedHosts.has(name)) return undefined;
    const address = parseAddress(hostname);
    if (address) {
      const kind = this.forbiddenKind(address);
      return kind && `${hostname} is ${kind}; ${HOW_TO_ALLOW}`;
    }
    if (name === 'localhost' || name.endsWith('.localhost')) return `${hostname} is a loopback name; ${HOW_TO_ALLOW}`;
    return undefined;
  }

  /** Why a webhook may not call `address`, which the host name `hostname` resolved to, or undefined. */
  refusalOfResolvedAddress(hostname: string, address: string): string | undefined {
    if (this.allowedHosts.has(normalName(hostname))) return undefined;
    const parsed = parseAddress(address);
    if (!parsed) return `${hostname} resolves to "${address}", which is not an IP address`;
    const kind = this.forbiddenKind(parsed);
    return kind && `${hostname} resolves to ${address}, ${kind}; ${HOW_TO_ALLOW}`;
  }

  /** What makes the address forbidden ("a loopback address"), or undefined when it may be called. */
  private forbiddenKind(address: Address): string | undefined {
    if (this.allowedNetworks.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits))) {
      return undefined;
    }
    const embedded = embeddedIPv4(address);
    if (embedded) {
      const kind = this.forbiddenKind(embedded);
      return kind && `an IPv6 form of ${embedded.toString()}, ${kind}`;
    }
    const range = address.range();
    if (range === 'unicast') return undefined;
    const metadata = METADATA_ADDRESSES.has(address.toString()) ? ' (cloud metadata service)' : '';
    return `${RANGE_NAMES[range] ?? `a special-purpose (${range})`} address${metadata}`;
  }
}

/** The IPv4 address inside an IPv6 one that is only a way of writing it, else undefined. */
function embeddedIPv4(address: Address): ipaddr.IPv4 | undefined {
  if (address.kind() === 'ipv4') return undefined;
  const { parts } = address as ipaddr.IPv6;
  const low32 = () => new ipaddr.IPv4([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
  const range = address.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145') return low32();
  // The well-known NAT64 prefix 64:ff9b::/96 (RFC 6052); the local-use 64:ff9b:1::/48 stays refused as NAT64.
  if (parts[0] === 0x64 && parts[1] === 0xff9b && parts.slice(2, 6).every((part) => part === 0)) return low32();
  // IPv4-compatible ::a.b.c.d (deprecated); :: and ::1 keep their own ranges.
  if (parts.slice(0, 6).every((part) => part === 0) && range !== 'unspecified' && range !== 'loopback') return low32();
  return undefined;
}

/** Four-part decimal IPv4 or IPv6 (a URL host's brackets allowed); other spellings are not addresses here. */
function parseAddress(text: string): Address | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (ipaddr.IPv6.isValid(bare)) return ipaddr.IPv6.parse(bare);
  return undefined;
}

function parseNetwork(entry: string): Network | undefined {
  const slash = entry.indexOf('/');
  const address = parseAddress(slash < 0 ? entry : entry.slice(0, slash));
  if (!address) return undefined;
  const maxBits = address.kind() === 'ipv4' ? 32 : 128;
  if (slash < 0) return [address, maxBits];
  const bits = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits) return undefined;
  return [address, Number(bits)];
}

/** A host name as WHATWG URL normalises it (lower case, IDNA), or undefined when the entry is not just a host name. */
function parseHostName(entry: string): string | undefined {
  // A port (x:80) is not part of a host name, even one the URL would drop as the default.
  if (entry.includes(':')) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${entry}/`);
  } catch {
    return undefined;
  }
  if (url.host !== url.hostname || url.href !== `http://${url.host}/` || parseAddress(url.hostname)) return undefined;
  return normalName(url.hostname);
}

/** The name without the trailing dot of an absolute name, so `localhost.` is `localhost`. */
function normalName(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}
