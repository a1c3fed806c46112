/**
 * Spellings of webhook hosts the default destination policy refuses, each
 * with the words its refusal must contain. The loopback ones name 127.0.0.1,
 * where the test sinks listen: with a sink's port, a URL the policy let
 * through would reach the sink.
 */
export interface ForbiddenHost {
  /** As written in a URL's host. */
  readonly host: string;
  /** Part of the reason it is refused. */
  readonly refusal: string;
}

const LOOPBACK = '127.0.0.1 is a loopback address';
const METADATA = '169.254.169.254 is a link-local address (cloud metadata service)';
const METADATA_IN_IPV6 = 'IPv6 form of 169.254.169.254, a link-local address (cloud metadata service)';

export const LOOPBACK_HOSTS: readonly ForbiddenHost[] = [
  { host: '127.0.0.1', refusal: LOOPBACK },
  { host: '2130706433', refusal: LOOPBACK },
  { host: '0x7f000001', refusal: LOOPBACK },
  { host: '0177.0.0.1', refusal: LOOPBACK },
  { host: '127.1', refusal: LOOPBACK },
  { host: '[::ffff:127.0.0.1]', refusal: 'IPv6 form of 127.0.0.1, a loopback address' },
  { host: '[::ffff:7f00:1]', refusal: 'IPv6 form of 127.0.0.1, a loopback address' },
  { host: '[::127.0.0.1]', refusal: 'IPv6 form of 127.0.0.1, a loopback address' },
  { host: '[64:ff9b::7f00:1]', refusal: 'IPv6 form of 127.0.0.1, a loopback address' },
  { host: '[::1]', refusal: '[::1] is a loopback address' },
  { host: 'localhost', refusal: 'localhost is a loopback name' },
  { host: 'LOCALHOST.', refusal: 'localhost. is a loopback name' },
  { host: 'hooks.localhost', refusal: 'hooks.localhost is a loopback name' },
];

export const OTHER_FORBIDDEN_HOSTS: readonly ForbiddenHost[] = [
  { host: '169.254.169.254', refusal: METADATA },
  { host: '2852039166', refusal: METADATA },
  { host: '0xa9fea9fe', refusal: METADATA },
  { host: '0251.0376.0251.0376', refusal: METADATA },
  { host: '169.254.43518', refusal: METADATA },
  { host: '[::ffff:169.254.169.254]', refusal: METADATA_IN_IPV6 },
  { host: '[::ffff:a9fe:a9fe]', refusal: METADATA_IN_IPV6 },
  { host: '[64:ff9b::a9fe:a9fe]', refusal: METADATA_IN_IPV6 },
  { host: '[::a9fe:a9fe]', refusal: METADATA_IN_IPV6 },
  { host: '[fd00:ec2::254]', refusal: '[fd00:ec2::254] is a unique-local (fc00::/7) address (cloud metadata service)' },
  { host: '100.100.100.200', refusal: '100.100.100.200 is a carrier-grade NAT (100.64.0.0/10) address (cloud metadata service)' },
  { host: '100.64.0.1', refusal: '100.64.0.1 is a carrier-grade NAT (100.64.0.0/10) address' },
  { host: '10.0.0.1', refusal: '10.0.0.1 is a private (RFC 1918) address' },
  { host: '172.16.0.1', refusal: '172.16.0.1 is a private (RFC 1918) address' },
  { host: '192.168.1.1', refusal: '192.168.1.1 is a private (RFC 1918) address' },
  { host: '[fc00::1]', refusal: '[fc00::1] is a unique-local (fc00::/7) address' },
  { host: '[fe80::1]', refusal: '[fe80::1] is a link-local address' },
  { host: '0.0.0.0', refusal: '0.0.0.0 is an unspecified address' },
  { host: '0', refusal: '0.0.0.0 is an unspecified address' },
  { host: '[::]', refusal: '[::] is an unspecified address' },
  { host: '224.0.0.1', refusal: '224.0.0.1 is a multicast address' },
  { host: '[ff02::1]', refusal: '[ff02::1] is a multicast address' },
  { host: '255.255.255.255', refusal: '255.255.255.255 is a broadcast address' },
  { host: '[64:ff9b:1::1]', refusal: '[64:ff9b:1::1] is a NAT64 address' },
];

export const FORBIDDEN_HOSTS: readonly ForbiddenHost[] = [...LOOPBACK_HOSTS, ...OTHER_FORBIDDEN_HOSTS];
