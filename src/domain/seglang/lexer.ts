import { unstorableTextProblem } from '../text.js';
import { syntaxError } from './errors.js';

export type TokenKind = 'string' | 'number' | 'name' | '(' | ')' | '[' | ']' | ',' | '.' | '*' | '+' | '\\' | 'end';

export interface Token {
  readonly kind: TokenKind;
  /** The decoded string, the number's source text, the name, or the punctuation itself. */
  readonly text: string;
  /** 1-based code point offset of the token's first character. */
  readonly position: number;
}

const PUNCTUATION = new Set<string>(['(', ')', '[', ']', ',', '.', '*', '+', '\\']);
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
};

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isNameStart = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z_]$/.test(c);
const isNamePart = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/**
 * Splits an expression into tokens. Works on code points so that positions
 * count characters as a person sees them, whatever the script.
 */
export function tokenize(text: string): Token[] {
  const chars = [...text];
  const tokens: Token[] = [];
  let i = 0;
  const at = (offset: number): Token['position'] => offset + 1;

  while (i < chars.length) {
    const c = chars[i] as string;
    if (isSpace(c)) {
      i++;
    } else if (c === '"') {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        const d = chars[i];
        if (d === undefined) throw syntaxError('unterminated string', at(start));
        if (d === '"') break;
        if (d === '\\') {
          const e = chars[i + 1];
          if (e === 'u') {
            const hex = chars.slice(i + 2, i + 6).join('');
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw syntaxError('invalid \\u escape, expected 4 hex digits', at(i));
            value += String.fromCharCode(parseInt(hex, 16));
            i += 6;
          } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
            value += ESCAPES[e];
            i += 2;
          } else {
            throw syntaxError(`invalid escape "\\${e ?? ''}" in string`, at(i));
          }
        } else {
          value += d;
          i++;
        }
      }
      i++;
      // An escape like \u0000 can spell what the stores cannot keep, so the decoded value is checked.
      const problem = unstorableTextProblem(value);
      if (problem) throw syntaxError(`string ${problem}`, at(start));
      tokens.push({ kind: 'string', text: value, position: at(start) });
    } else if (isDigit(c) || (c === '-' && isDigit(chars[i + 1]))) {
      const start = i;
      i++;
      while (isDigit(chars[i])) i++;
      if (chars[i] === '.' && isDigit(chars[i + 1])) {
        i++;
        while (isDigit(chars[i])) i++;
      }
      tokens.push({ kind: 'number', text: chars.slice(start, i).join(''), position: at(start) });
    } else if (isNameStart(c)) {
      const start = i;
      while (isNamePart(chars[i])) i++;
      tokens.push({ kind: 'name', text: chars.slice(start, i).join(''), position: at(start) });
    } else if (PUNCTUATION.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, position: at(i) });
      i++;
    } else {
      throw syntaxError(`unexpected character ${JSON.stringify(c)}`, at(i));
    }
  }
  tokens.push({ kind: 'end', text: '', position: at(chars.length) });
  return tokens;
}
