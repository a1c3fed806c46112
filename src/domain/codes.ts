import { randomBytes, randomInt } from 'node:crypto';

export const APPLICATION_CODE_PATTERN = /^[A-Z0-9]{5}-[A-Z0-9]{5}$/;

const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function isApplicationCode(value: string): boolean {
  return APPLICATION_CODE_PATTERN.test(value);
}

export function randomApplicationCode(): string {
  const pick = () => Array.from({ length: 5 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return `${pick()}-${pick()}`;
}

/**
 * 256 random bits; only its sha256 is stored. Hex, not base64url: one token
 * in 64 began with "-", which the CLI (`tokens revoke TOKEN`) reads as an option.
 */
export function randomToken(): string {
  return randomBytes(32).toString('hex');
}
