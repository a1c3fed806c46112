import { APPLICATION_CODE_PATTERN } from '../codes.js';
import { DAYS_AGO_COMPARISONS, OPERATORS, type Condition, type Literal, type Operator, type SegExpr, type SetOperator } from './ast.js';
import { SeglangError, syntaxError } from './errors.js';
import { tokenize, type Token, type TokenKind } from './lexer.js';
import { SEGLANG_LIMITS } from './limits.js';
import { deviceTypeOfPlatform } from './platforms.js';

/**
 * Parses a seglang expression (grammar in docs/seglang.md) into its syntax
 * tree. Throws a SeglangError naming the first problem and its position, or
 * the first of SEGLANG_LIMITS the expression exceeds.
 */
export function parseSeglang(text: string): SegExpr {
  if (text.length > SEGLANG_LIMITS.length) {
    throw new SeglangError(`filter is ${text.length} characters long; at most ${SEGLANG_LIMITS.length} are allowed`);
  }
  return new Parser(tokenize(text)).parseFilter();
}

/** One argument of an operator, before the operator decides what it needs. */
type Argument =
  | { readonly kind: 'scalar'; readonly literal: Literal }
  | { readonly kind: 'list'; readonly items: readonly Literal[]; readonly position: number }
  | { readonly kind: 'name'; readonly text: string; readonly position: number };

const SET_OPERATORS: Partial<Record<TokenKind, SetOperator>> = { '+': 'union', '\\': 'difference' };

class Parser {
  private index = 0;
  private depth = 0;
  private readonly setTerms = new LimitedCount('set terms', SEGLANG_LIMITS.setTerms);
  private readonly listValues = new LimitedCount('list values', SEGLANG_LIMITS.listValues);

  constructor(private readonly tokens: readonly Token[]) {}

  parseFilter(): SegExpr {
    const expr = this.parseExpression();
    const next = this.peek();
    if (next.kind !== 'end') throw syntaxError('expected "+", "*", "\\" or the end of the filter', next.position);
    this.setTerms.check();
    this.listValues.check();
    return expr;
  }

  /** expression = term { ("+" | "\") term } — left-associative. */
  private parseExpression(): SegExpr {
    let left = this.parseTerm();
    for (let op = SET_OPERATORS[this.peek().kind]; op; op = SET_OPERATORS[this.peek().kind]) {
      this.advance();
      left = { kind: op, left, right: this.parseTerm() };
    }
    return left;
  }

  /** term = chain { "*" chain } — binds tighter than + and \. */
  private parseTerm(): SegExpr {
    let left = this.parseChain();
    while (this.peek().kind === '*') {
      this.advance();
      left = { kind: 'intersect', left, right: this.parseChain() };
    }
    return left;
  }

  /** chain = operand { "." "tags" "(" string ")" "." operator "(" [ argument { "," argument } ] ")" } */
  private parseChain(): SegExpr {
    let expr = this.parseOperand();
    while (this.peek().kind === '.') {
      this.advance();
      const method = this.peek();
      if (method.kind !== 'name' || method.text.toLowerCase() !== 'tags') {
        throw syntaxError('expected "tags" after "."', method.position);
      }
      this.setTerms.add(1, method.position);
      this.advance();
      this.expect('(');
      const tag = this.expectString('a tag name');
      this.expect(')');
      this.expect('.');
      const op = this.parseOperator();
      this.expect('(');
      const args = this.peek().kind === ')' ? [] : this.parseArguments();
      this.expect(')');
      expr = {
        kind: 'intersect',
        left: expr,
        right: { kind: 'tag', tag: tag.text, condition: toCondition(op, args), position: tag.position },
      };
    }
    return expr;
  }

  /** operand = "(" expression ")" | A(...) | T(...) | AT(...) */
  private parseOperand(): SegExpr {
    const token = this.peek();
    if (token.kind === '(') {
      // Checked before descending, so that no input can recurse deeper than the limit.
      if (this.depth === SEGLANG_LIMITS.depth) {
        throw new SeglangError(
          `filter nests parentheses ${this.depth + 1} deep at position ${token.position}; at most ${SEGLANG_LIMITS.depth} are allowed`,
          token.position,
        );
      }
      this.advance();
      this.depth++;
      const inner = this.parseExpression();
      this.depth--;
      this.expect(')');
      return inner;
    }
    if (token.kind !== 'name') throw syntaxError('expected A(...), T(...), AT(...) or "("', token.position);
    const name = token.text.toUpperCase();
    if (name !== 'A' && name !== 'T' && name !== 'AT') {
      throw new SeglangError(`unknown function "${token.text}" at position ${token.position}`, token.position);
    }
    this.setTerms.add(1, token.position);
    this.advance();
    this.expect('(');
    const expr = name === 'A' ? this.parseApplicationArguments() : name === 'T' ? this.parseTagArguments() : this.parseAppTagArguments();
    this.expect(')');
    return expr;
  }

  /** A("CODE"[, [platform, ...]]) */
  private parseApplicationArguments(): SegExpr {
    const code = this.expectApplicationCode();
    if (this.peek().kind !== ',') return { kind: 'app', code: code.text, position: code.position };
    this.advance();
    const list = this.parseArgument();
    if (list.kind !== 'list') throw syntaxError('expected a list of platforms like ["ios", "android"]', positionOf(list));
    const deviceTypes = list.items.map((item) => {
      const deviceType = deviceTypeOfPlatform(item.value);
      if (deviceType === undefined) {
        throw new SeglangError(`unknown platform ${JSON.stringify(item.value)} at position ${item.position}`, item.position);
      }
      return deviceType;
    });
    // An empty list names no restriction, as if no list were given.
    if (deviceTypes.length === 0) return { kind: 'app', code: code.text, position: code.position };
    return { kind: 'app', code: code.text, deviceTypes: [...new Set(deviceTypes)], position: code.position };
  }

  /** T("Tag", operator[, argument ...]) */
  private parseTagArguments(): SegExpr {
    const tag = this.expectString('a tag name');
    this.expect(',');
    return { kind: 'tag', tag: tag.text, condition: this.parseInlineCondition(), position: tag.position };
  }

  /** AT("CODE", "Tag", operator[, argument ...]) = A("CODE") * T("Tag", operator[, argument ...]) */
  private parseAppTagArguments(): SegExpr {
    const code = this.expectApplicationCode();
    this.expect(',');
    return {
      kind: 'intersect',
      left: { kind: 'app', code: code.text, position: code.position },
      right: this.parseTagArguments(),
    };
  }

  /** The function form's `operator[, argument ...]`. */
  private parseInlineCondition(): Condition {
    const op = this.parseOperator();
    let args: Argument[] = [];
    if (this.peek().kind === ',') {
      this.advance();
      args = this.parseArguments();
    }
    return toCondition(op, args);
  }

  private parseOperator(): { readonly op: Operator; readonly position: number } {
    const token = this.peek();
    if (token.kind !== 'name') throw syntaxError('expected an operator (eq, noteq, in, ...)', token.position);
    const op = OPERATORS.find((candidate) => candidate === token.text.toLowerCase());
    if (!op) throw new SeglangError(`unknown operator "${token.text}" at position ${token.position}`, token.position);
    this.advance();
    return { op, position: token.position };
  }

  private parseArguments(): Argument[] {
    const args = [this.parseArgument()];
    while (this.peek().kind === ',') {
      this.advance();
      args.push(this.parseArgument());
    }
    return args;
  }

  /** argument = value | "[" [ value { "," value } ] "]" | name */
  private parseArgument(): Argument {
    const token = this.peek();
    if (token.kind === '[') {
      this.advance();
      const items: Literal[] = [];
      if (this.peek().kind !== ']') {
        items.push(this.expectLiteral());
        while (this.peek().kind === ',') {
          this.advance();
          items.push(this.expectLiteral());
        }
      }
      this.expect(']');
      this.listValues.add(items.length, token.position);
      return { kind: 'list', items, position: token.position };
    }
    if (token.kind === 'name' && !isBooleanName(token.text)) {
      this.advance();
      return { kind: 'name', text: token.text, position: token.position };
    }
    return { kind: 'scalar', literal: this.expectLiteral() };
  }

  /** value = string | number | true | false */
  private expectLiteral(): Literal {
    const token = this.peek();
    if (token.kind === 'string') {
      this.advance();
      return { value: token.text, raw: token.text, position: token.position };
    }
    if (token.kind === 'number') {
      const value = Number(token.text);
      if (!Number.isFinite(value)) throw syntaxError('number out of range', token.position);
      this.advance();
      return { value, raw: token.text, position: token.position };
    }
    if (token.kind === 'name' && isBooleanName(token.text)) {
      this.advance();
      return { value: token.text.toLowerCase() === 'true', raw: token.text, position: token.position };
    }
    throw syntaxError('expected a value (a "string", a number, true or false)', token.position);
  }

  private expectApplicationCode(): Token {
    const code = this.expectString('an application code');
    if (!APPLICATION_CODE_PATTERN.test(code.text)) {
      throw new SeglangError(
        `invalid application code ${JSON.stringify(code.text)} at position ${code.position} (expected XXXXX-XXXXX)`,
        code.position,
      );
    }
    return code;
  }

  private expectString(what: string): Token {
    const token = this.peek();
    if (token.kind !== 'string') throw syntaxError(`expected ${what} in double quotes`, token.position);
    this.advance();
    return token;
  }

  private expect(kind: TokenKind): Token {
    const token = this.peek();
    if (token.kind !== kind) throw syntaxError(`expected "${kind}"`, token.position);
    this.advance();
    return token;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private advance(): void {
    if (this.index < this.tokens.length - 1) this.index++;
  }
}

/**
 * A count held to a limit, checked once the whole filter is read so that the
 * refusal names the filter's own figure; its position is where it went over.
 */
class LimitedCount {
  private count = 0;
  private positionOverLimit?: number;

  constructor(
    private readonly what: string,
    private readonly limit: number,
  ) {}

  add(amount: number, position: number): void {
    if (this.count <= this.limit && this.count + amount > this.limit) this.positionOverLimit = position;
    this.count += amount;
  }

  check(): void {
    if (this.count > this.limit) {
      throw new SeglangError(`filter has ${this.count} ${this.what}; at most ${this.limit} are allowed`, this.positionOverLimit);
    }
  }
}

function isBooleanName(text: string): boolean {
  const lower = text.toLowerCase();
  return lower === 'true' || lower === 'false';
}

function positionOf(arg: Argument): number {
  return arg.kind === 'scalar' ? arg.literal.position : arg.position;
}

/** Checks that an operator got the arguments it needs and builds its condition. */
function toCondition(operator: { readonly op: Operator; readonly position: number }, args: readonly Argument[]): Condition {
  const { op, position } = operator;
  const fail = (message: string): never => {
    throw new SeglangError(message, args[0] ? positionOf(args[0]) : position);
  };
  switch (op) {
    case 'eq':
    case 'noteq':
    case 'gte':
    case 'lte': {
      const [arg, extra] = args;
      if (!arg) return fail(`operator ${op} needs a value`);
      if (extra) return fail(`operator ${op} takes one value`);
      if (arg.kind === 'list') return fail(`operator ${op} takes one value, not a list`);
      if (arg.kind === 'name') throw syntaxError('expected a value (a "string", a number, true or false)', arg.position);
      return { op, value: arg.literal };
    }
    case 'in':
    case 'notin': {
      const [arg, extra] = args;
      if (!arg || extra || arg.kind !== 'list') return fail(`operator ${op} needs a list [value, ...]`);
      return { op, values: arg.items };
    }
    case 'between': {
      // [min, max]; `min, max` without brackets is accepted as well.
      const [first, second, extra] = args;
      let bounds: readonly Literal[] = [];
      if (first?.kind === 'list' && !second) bounds = first.items;
      else if (first?.kind === 'scalar' && second?.kind === 'scalar' && !extra) bounds = [first.literal, second.literal];
      if (bounds.length !== 2) return fail('operator between needs [min, max]');
      const [min, max] = bounds as [Literal, Literal];
      return { op, min, max };
    }
    case 'any':
    case 'notset':
      if (args.length > 0) return fail(`operator ${op} takes no value`);
      return { op };
    case 'daysago': {
      const [comparisonArg, daysArg, extra] = args;
      if (!comparisonArg || !daysArg || extra || comparisonArg.kind !== 'name') {
        return fail('operator daysago needs a comparison and a number of days, e.g. daysago, gt, 3');
      }
      const comparison = DAYS_AGO_COMPARISONS.find((c) => c === comparisonArg.text.toLowerCase());
      if (!comparison) {
        throw new SeglangError(
          `unknown daysago comparison "${comparisonArg.text}" at position ${comparisonArg.position} (expected gt, gte, lt, lte or eq)`,
          comparisonArg.position,
        );
      }
      if (daysArg.kind !== 'scalar' || typeof daysArg.literal.value !== 'number' || !Number.isInteger(daysArg.literal.value)) {
        throw new SeglangError('operator daysago needs a whole number of days', positionOf(daysArg));
      }
      const { value: days, raw, position: daysPosition } = daysArg.literal;
      if (Math.abs(days) > SEGLANG_LIMITS.daysAgo) {
        throw new SeglangError(`operator daysago counts at most ${SEGLANG_LIMITS.daysAgo} days either way, got ${raw}`, daysPosition);
      }
      return { op, comparison, days };
    }
  }
}
