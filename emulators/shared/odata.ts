// The OData v4 `$filter` / `$orderby` subset the emulated APIs document: Partner Center's `GET /referrals`
// (reference/partner-center.md §2) and Dataverse's queries (reference/crm.md §A.5): comparisons, and/or/not,
// parentheses, datetime literals, GUID literals, nested paths (`customerProfile/address/country`) and the
// lambda `team/any(t:t/email eq 'x@y.com')`. Shared by the emulators; never imported by the product.
//
// A hand-written recursive-descent parser: the grammar is small and the error messages matter more than
// completeness, because the people reading them are writing a client against the emulator.
//
// Choices where OData leaves room (also in the emulator README):
// - String `eq`/`ne`/`gt`/... are case-sensitive (ordinal) unless the emulator compiles with
//   `caseInsensitive` (Dataverse: SQL Server's default collation ignores case, GUIDs too). Partner Center
//   clients use `tolower(team/email) eq 'x@y.com'`; the real service may be more lenient, but the emulator
//   would rather surface a client that depends on it.
// - Keywords (`and`, `eq`, `true`, `any`, ...) are accepted in any case, as OData 4.01 allows.
// - `not` negates the whole comparison that follows (`not status eq 'New'` = `not (status eq 'New')`),
//   which is what people mean; strict OData would bind `not` to `status` alone and reject the filter.
// - An unquoted datetime (`2026-11-01T00:00:00Z`, up to 7 fractional digits, or a date `2026-11-01`) is
//   compared as an instant against ISO strings at 100 ns precision. A quoted date is just a string.
// - A path that runs into an array without a lambda, or names a missing property, evaluates to null.

export class ODataSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset in the expression where the problem starts. */
    readonly position: number,
    /** The whole `$filter` or `$orderby` text. */
    readonly expression: string,
  ) {
    super(message);
    this.name = 'ODataSyntaxError';
  }
}

type Expression = '$filter' | '$orderby';
type TokenKind = 'string' | 'number' | 'datetime' | 'guid' | 'name' | 'punct' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

const DATETIME =
  /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2}))?(?![\w.:-])/y;
const GUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])/y;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.:-])/y;
const NAME = /[A-Za-z_$][A-Za-z0-9_]*/y;
const DATE_START = /\d{4}-\d{2}/y;
const LITERALS: [TokenKind, RegExp][] = [
  ['datetime', DATETIME],
  ['guid', GUID],
  ['number', NUMBER],
  ['name', NAME],
];

function describe(token: Token): string {
  return token.kind === 'end' ? 'the end of the expression' : `'${token.text}'`;
}

function tokenize(text: string, what: Expression): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  const sticky = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    return re.exec(text)?.[0];
  };
  while (pos < text.length) {
    const ch = text[pos]!;
    if (/\s/.test(ch)) {
      pos++;
      continue;
    }
    if ('(),/:'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, pos });
      pos++;
      continue;
    }
    if (ch === "'") {
      let value = '';
      let end = pos + 1;
      for (;;) {
        if (end >= text.length) {
          throw new ODataSyntaxError(
            `Invalid ${what} at position ${pos} in '${text}': the string literal starting here is not closed; ` +
              `expected a closing quote (write a quote inside a string as two quotes: 'O''Neil').`,
            pos,
            text,
          );
        }
        const c = text[end]!;
        if (c === "'") {
          if (text[end + 1] === "'") {
            value += "'";
            end += 2;
            continue;
          }
          break;
        }
        value += c;
        end++;
      }
      tokens.push({ kind: 'string', text: value, pos });
      pos = end + 1;
      continue;
    }
    // Order matters: a datetime or a GUID also starts with digits.
    let token: Token | undefined;
    for (const [kind, re] of LITERALS) {
      const match = sticky(re);
      if (match !== undefined) {
        token = { kind, text: match, pos };
        break;
      }
    }
    if (!token && sticky(DATE_START) !== undefined) {
      throw new ODataSyntaxError(
        `Invalid ${what} at position ${pos} in '${text}': malformed datetime literal; expected e.g. ` +
          `2026-11-01T00:00:00Z or 2026-11-01T00:00:00.1234567+00:00 (at most 7 fractional digits, unquoted).`,
        pos,
        text,
      );
    }
    if (!token) {
      throw new ODataSyntaxError(
        `Invalid ${what} at position ${pos} in '${text}': unexpected character '${ch}'; expected a property ` +
          `path, a literal ('text', 42, true, null, 2026-11-01T00:00:00Z), an operator or a parenthesis.`,
        pos,
        text,
      );
    }
    tokens.push(token);
    pos += token.text.length;
  }
  tokens.push({ kind: 'end', text: '', pos: text.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------------------
// Syntax tree

const COMPARISON_OPERATORS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const;
type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

/** Functions the emulator evaluates; arity and what they return. */
const FUNCTIONS = {
  contains: 2,
  startswith: 2,
  endswith: 2,
  tolower: 1,
  toupper: 1,
} as const;
type FunctionName = keyof typeof FUNCTIONS;

/** An unquoted datetime literal, kept apart from strings so only it triggers instant comparison. */
class DateTimeValue {
  constructor(readonly ticks: bigint) {}
}

type Node =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'datetime'; value: DateTimeValue }
  | { kind: 'path'; segments: string[]; pos: number }
  | { kind: 'lambda'; collection: Node; quantifier: 'any' | 'all'; variable?: string; body?: Node }
  | { kind: 'call'; name: FunctionName; args: Node[] }
  | { kind: 'compare'; op: ComparisonOperator; left: Node; right: Node }
  | { kind: 'and' | 'or'; left: Node; right: Node }
  | { kind: 'not'; operand: Node };

class Parser {
  private index = 0;
  private readonly tokens: Token[];

  constructor(
    private readonly text: string,
    private readonly what: Expression,
  ) {
    if (text.trim() === '') {
      throw new ODataSyntaxError(`The ${what} expression is empty.`, 0, text);
    }
    this.tokens = tokenize(text, what);
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private isKeyword(token: Token, ...words: string[]): boolean {
    return token.kind === 'name' && words.includes(token.text.toLowerCase());
  }

  private isPunct(token: Token, ch: string): boolean {
    return token.kind === 'punct' && token.text === ch;
  }

  fail(token: Token, expected: string): never {
    throw new ODataSyntaxError(
      `Invalid ${this.what} at position ${token.pos} in '${this.text}': expected ${expected}, found ${describe(token)}.`,
      token.pos,
      this.text,
    );
  }

  private expectPunct(ch: string, expected: string): Token {
    const token = this.next();
    if (!this.isPunct(token, ch)) this.fail(token, expected);
    return token;
  }

  expectEnd(expected: string): void {
    const token = this.peek();
    if (token.kind !== 'end') this.fail(token, expected);
  }

  parseFilter(): Node {
    const node = this.parseOr();
    this.expectEnd("'and', 'or' or the end of the $filter");
    return node;
  }

  private parseOr(): Node {
    let left = this.parseAnd();
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      left = { kind: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): Node {
    let left = this.parseNot();
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      left = { kind: 'and', left, right: this.parseNot() };
    }
    return left;
  }

  private parseNot(): Node {
    if (this.isKeyword(this.peek(), 'not') && !this.isPunct(this.peek(1), '/')) {
      this.next();
      return { kind: 'not', operand: this.parseNot() };
    }
    return this.parseComparison();
  }

  private parseComparison(): Node {
    const left = this.parsePrimary();
    const token = this.peek();
    if (token.kind === 'name') {
      const op = token.text.toLowerCase();
      if ((COMPARISON_OPERATORS as readonly string[]).includes(op)) {
        this.next();
        const right = this.parsePrimary();
        const after = this.peek();
        if (after.kind === 'name' && (COMPARISON_OPERATORS as readonly string[]).includes(after.text)) {
          this.fail(after, "'and', 'or' or ')' (comparisons cannot be chained; use 'and')");
        }
        return { kind: 'compare', op: op as ComparisonOperator, left, right };
      }
    }
    const isOperand = token.kind !== 'punct' && token.kind !== 'end';
    if (isOperand && !this.isKeyword(token, 'and', 'or')) {
      this.fail(token, `a comparison operator (${COMPARISON_OPERATORS.join(', ')}), 'and', 'or' or ')'`);
    }
    return left;
  }

  private parsePrimary(): Node {
    const token = this.peek();
    const operand = 'a property path, a literal or a parenthesised expression';
    switch (token.kind) {
      case 'end':
        return this.fail(token, operand);
      case 'punct':
        if (token.text !== '(') return this.fail(token, operand);
        this.next();
        {
          const inner = this.parseOr();
          this.expectPunct(')', "')' to close the parenthesis");
          return inner;
        }
      case 'string':
      case 'guid':
        this.next();
        return { kind: 'literal', value: token.text };
      case 'number':
        this.next();
        return { kind: 'literal', value: Number(token.text) };
      case 'datetime': {
        this.next();
        const ticks = instantTicks(token.text);
        if (ticks === undefined) this.fail(token, 'a real calendar date and time');
        return { kind: 'datetime', value: new DateTimeValue(ticks) };
      }
      case 'name':
        break;
    }
    const word = token.text.toLowerCase();
    if (word === 'true' || word === 'false') {
      this.next();
      return { kind: 'literal', value: word === 'true' };
    }
    if (word === 'null') {
      this.next();
      return { kind: 'literal', value: null };
    }
    if (this.isPunct(this.peek(1), '(')) return this.parseCall();
    return this.parsePath();
  }

  private parseCall(): Node {
    const nameToken = this.next();
    const name = nameToken.text.toLowerCase();
    if (!Object.hasOwn(FUNCTIONS, name)) {
      throw new ODataSyntaxError(
        `Invalid ${this.what} at position ${nameToken.pos} in '${this.text}': unknown function '${nameToken.text}'; ` +
          `expected one of ${Object.keys(FUNCTIONS).join(', ')}.`,
        nameToken.pos,
        this.text,
      );
    }
    const arity = FUNCTIONS[name as FunctionName];
    this.expectPunct('(', "'('");
    const args: Node[] = [];
    for (let i = 0; i < arity; i++) {
      if (i > 0) this.expectPunct(',', `',' (${name} takes ${arity} arguments)`);
      args.push(this.parseOr());
    }
    this.expectPunct(')', `')' (${name} takes ${arity} argument${arity > 1 ? 's' : ''})`);
    return { kind: 'call', name: name as FunctionName, args };
  }

  parsePath(): Node {
    const first = this.next();
    if (first.kind !== 'name') this.fail(first, 'a property name');
    const segments = [first.text];
    let node: Node = { kind: 'path', segments, pos: first.pos };
    while (this.isPunct(this.peek(), '/')) {
      this.next();
      const segment = this.next();
      if (segment.kind !== 'name') this.fail(segment, "a property name after '/'");
      if (this.isKeyword(segment, 'any', 'all') && this.isPunct(this.peek(), '(')) {
        node = this.parseLambda(node, segment.text.toLowerCase() as 'any' | 'all');
        if (this.isPunct(this.peek(), '/'))
          this.fail(this.peek(), `nothing after the ${segment.text}(...) lambda`);
        return node;
      }
      segments.push(segment.text);
    }
    return node;
  }

  private parseLambda(collection: Node, quantifier: 'any' | 'all'): Node {
    this.expectPunct('(', "'('");
    if (quantifier === 'any' && this.isPunct(this.peek(), ')')) {
      this.next();
      return { kind: 'lambda', collection, quantifier };
    }
    const variable = this.next();
    if (variable.kind !== 'name')
      this.fail(variable, `a lambda variable, as in ${quantifier}(t:t/email eq 'x')`);
    this.expectPunct(
      ':',
      `':' after the lambda variable, as in ${quantifier}(${variable.text}:${variable.text}/email eq 'x')`,
    );
    const body = this.parseOr();
    this.expectPunct(')', `')' to close the ${quantifier}(...) lambda`);
    return { kind: 'lambda', collection, quantifier, variable: variable.text, body };
  }

  /** `$orderby`: `path [asc|desc] (, path [asc|desc])*`. */
  parseOrderBy(): { segments: string[]; descending: boolean }[] {
    const keys: { segments: string[]; descending: boolean }[] = [];
    for (;;) {
      const path = this.parsePath();
      if (path.kind !== 'path') this.fail(this.peek(), 'a property path (lambdas are not sortable)');
      let descending = false;
      if (this.isKeyword(this.peek(), 'asc', 'desc')) descending = this.next().text.toLowerCase() === 'desc';
      keys.push({ segments: path.segments, descending });
      if (!this.isPunct(this.peek(), ',')) break;
      this.next();
    }
    this.expectEnd("'asc', 'desc', ',' or the end of the $orderby");
    return keys;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO date/time as 100 ns ticks since the epoch (Partner Center writes 7 fractional digits, more than
 *  a JS Date holds), or undefined when the text is not one. A time without a zone is read as UTC. */
export function instantTicks(text: string): bigint | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) return undefined;
  const [, date, hm, seconds, fraction, zone] = m;
  const ms = Date.parse(`${date}T${hm ?? '00:00'}:${seconds ?? '00'}${zone ?? 'Z'}`);
  if (Number.isNaN(ms)) return undefined;
  const subSecond = (fraction ?? '').padEnd(7, '0').slice(0, 7);
  return BigInt(ms) * 10_000n + BigInt(subSecond);
}

type Scope = ReadonlyMap<string, unknown>;

export interface CompileOptions {
  /** Compare strings ignoring case (Dataverse), as the default collation of its database does. */
  caseInsensitive?: boolean;
}

/** Set while a compiled predicate runs; evaluation is synchronous, so one flag is enough. */
let foldCase = false;
const fold = (v: unknown): unknown => (foldCase && typeof v === 'string' ? v.toLowerCase() : v);

function child(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

function resolvePath(segments: string[], root: unknown, scope: Scope): unknown {
  const [head, ...rest] = segments as [string, ...string[]];
  let value: unknown;
  if (scope.has(head)) value = scope.get(head);
  else if (head === '$it') value = root;
  else value = child(root, head);
  for (const segment of rest) value = child(value, segment);
  return value;
}

function evaluate(node: Node, root: unknown, scope: Scope): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'datetime':
      return node.value;
    case 'path':
      return resolvePath(node.segments, root, scope);
    case 'and':
      return evaluate(node.left, root, scope) === true && evaluate(node.right, root, scope) === true;
    case 'or':
      return evaluate(node.left, root, scope) === true || evaluate(node.right, root, scope) === true;
    case 'not':
      return evaluate(node.operand, root, scope) !== true;
    case 'compare':
      return compare(
        node.op,
        fold(evaluate(node.left, root, scope)),
        fold(evaluate(node.right, root, scope)),
      );
    case 'call':
      return call(
        node.name,
        node.args.map((arg) => fold(evaluate(arg, root, scope))),
      );
    case 'lambda': {
      const collection = evaluate(node.collection, root, scope);
      const items = Array.isArray(collection) ? collection : [];
      if (!node.body || !node.variable) return items.length > 0;
      const { body, variable } = node;
      const test = (item: unknown) => evaluate(body, root, new Map(scope).set(variable, item)) === true;
      return node.quantifier === 'any' ? items.some(test) : items.every(test);
    }
  }
}

function call(name: FunctionName, args: unknown[]): unknown {
  const [a, b] = args;
  switch (name) {
    case 'tolower':
      return typeof a === 'string' ? a.toLowerCase() : null;
    case 'toupper':
      return typeof a === 'string' ? a.toUpperCase() : null;
    case 'contains':
      return typeof a === 'string' && typeof b === 'string' && a.includes(b);
    case 'startswith':
      return typeof a === 'string' && typeof b === 'string' && a.startsWith(b);
    case 'endswith':
      return typeof a === 'string' && typeof b === 'string' && a.endsWith(b);
  }
}

type Comparable = string | number | boolean | bigint;

/** Brings two values to one comparable type, or undefined when they cannot be compared. */
function comparablePair(left: unknown, right: unknown): [Comparable, Comparable] | undefined {
  const ticksOf = (v: unknown): bigint | undefined =>
    v instanceof DateTimeValue ? v.ticks : typeof v === 'string' ? instantTicks(v) : undefined;
  if (left instanceof DateTimeValue || right instanceof DateTimeValue) {
    const l = ticksOf(left);
    const r = ticksOf(right);
    return l !== undefined && r !== undefined ? [l, r] : undefined;
  }
  // Partner Center accepts money as a numeric string ("10000"), so a stored string may meet a number.
  if (typeof left === 'number' && typeof right === 'string' && right.trim() !== '' && !Number.isNaN(+right)) {
    return [left, Number(right)];
  }
  if (typeof right === 'number' && typeof left === 'string' && left.trim() !== '' && !Number.isNaN(+left)) {
    return [Number(left), right];
  }
  const type = typeof left;
  if (type === typeof right && (type === 'string' || type === 'number' || type === 'boolean')) {
    return [left as Comparable, right as Comparable];
  }
  return undefined;
}

function compare(op: ComparisonOperator, left: unknown, right: unknown): boolean {
  const leftNull = left === null || left === undefined;
  const rightNull = right === null || right === undefined;
  if (leftNull || rightNull) {
    // OData: null equals only null, and every ordering comparison with null is false.
    if (op === 'eq') return leftNull && rightNull;
    if (op === 'ne') return leftNull !== rightNull;
    return false;
  }
  const pair = comparablePair(left, right);
  if (!pair) return op === 'ne';
  const [l, r] = pair;
  switch (op) {
    case 'eq':
      return l === r;
    case 'ne':
      return l !== r;
    case 'gt':
      return l > r;
    case 'ge':
      return l >= r;
    case 'lt':
      return l < r;
    case 'le':
      return l <= r;
  }
}

/** Compiles a `$filter` expression into a predicate over JSON rows (referrals, Dataverse records).
 *  Throws ODataSyntaxError with the position and what was expected. */
export function compileFilter(filter: string, options: CompileOptions = {}): (entity: unknown) => boolean {
  const tree = new Parser(filter, '$filter').parseFilter();
  const empty: Scope = new Map();
  const caseInsensitive = options.caseInsensitive === true;
  return (entity) => {
    foldCase = caseInsensitive;
    try {
      return evaluate(tree, entity, empty) === true;
    } finally {
      foldCase = false;
    }
  };
}

/** Sort order for values of one `$orderby` key: null first (OData's "null is smallest"), then by type. */
function orderValues(a: unknown, b: unknown): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') {
    const at = instantTicks(a);
    const bt = instantTicks(b);
    if (at !== undefined && bt !== undefined) return at < bt ? -1 : at > bt ? 1 : 0;
  }
  const pair = comparablePair(a, b);
  if (!pair) return 0;
  const [l, r] = pair;
  return l < r ? -1 : l > r ? 1 : 0;
}

/** Compiles a `$orderby` list (`createdDateTime desc, name`) into a comparator. Ties, and an empty
 *  `$orderby`, fall back to `id` ascending so paging is stable. */
export function compileOrderBy(orderby: string): (a: unknown, b: unknown) => number {
  const keys = orderby.trim() === '' ? [] : new Parser(orderby, '$orderby').parseOrderBy();
  const empty: Scope = new Map();
  return (a, b) => {
    for (const key of keys) {
      const order = orderValues(resolvePath(key.segments, a, empty), resolvePath(key.segments, b, empty));
      if (order !== 0) return key.descending ? -order : order;
    }
    return orderValues(child(a, 'id'), child(b, 'id'));
  };
}

/** `property eq literal`, one of the literals. */
export interface Equality {
  property: string;
  values: (string | number | boolean)[];
}

/**
 * The equalities a `$filter` requires of every entity it keeps, each as alternatives: its top-level `and`
 * conjuncts of the form `name eq 'x'`, `(name eq 'x' or name eq 'y')`, or an `or` across properties whose every
 * branch has such an equality (`(name eq 'x' and address1_postalcode eq '1') or duns eq '2'`: an entity it keeps
 * has name 'x' or DUNS '2'). Single-segment properties only. An emulator narrows a table with them through its
 * indexes (the union of the alternatives) before evaluating the whole filter; anything else (or a filter that does
 * not parse, which `compileFilter` reports) gives none.
 */
export function equalities(filter: string): Equality[][] {
  let tree: Node;
  try {
    tree = new Parser(filter, '$filter').parseFilter();
  } catch {
    return [];
  }
  const out: Equality[][] = [];
  const conjuncts = (node: Node): void => {
    if (node.kind === 'and') {
      conjuncts(node.left);
      conjuncts(node.right);
      return;
    }
    const found = alternatives(node);
    if (found) out.push(found);
  };
  conjuncts(tree);
  return out;
}

function alternatives(node: Node): Equality[] | undefined {
  if (node.kind === 'and') return alternatives(node.left) ?? alternatives(node.right);
  if (node.kind === 'or') {
    const left = alternatives(node.left);
    const right = left && alternatives(node.right);
    if (!left || !right) return undefined;
    const merged: Equality[] = [];
    for (const e of [...left, ...right]) {
      const same = merged.find((m) => m.property === e.property);
      if (same) same.values.push(...e.values);
      else merged.push({ property: e.property, values: [...e.values] });
    }
    return merged;
  }
  if (node.kind !== 'compare' || node.op !== 'eq') return undefined;
  const [path, literal] = node.left.kind === 'path' ? [node.left, node.right] : [node.right, node.left];
  if (path.kind !== 'path' || path.segments.length !== 1 || literal.kind !== 'literal') return undefined;
  if (literal.value === null) return undefined;
  return [{ property: path.segments[0]!, values: [literal.value] }];
}
