// Every message the relay and its commands can show an admin or analyst, as
// the code builds it, has an entry in docs/troubleshooting.md. The messages are
// collected from src/ with TypeScript's parser, so a message added later
// without an entry makes this test fail.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { authError, invalidPayload } from '../src/errors.js';

const ROOT = join(import.meta.dirname, '..');
const PAGE = join(ROOT, 'docs', 'troubleshooting.md');

/** A message: literal text, and `null` where a value is filled in at run time. */
type Part = string | null;
type Message = Part[];

/**
 * Where the extraction sees only a value passed on (all run-time, no text of
 * its own): each forwards a message made, and checked, elsewhere.
 */
const PASS_THROUGH = [
  // verifySignature's own parameter: its two callers' texts are in BUILT_ELSEWHERE.
  'src/auth/authenticate.ts: message',
  // A SpyCloud 422 turned from fatal into a warning: the same text as statusError's.
  'src/enrich.ts: error.message',
  // parseArgs' own errors and UsageError messages, printed with the usage hint.
  'src/cli.ts: error.message',
  // RelayError.toDoc(): the error's own message, made at its `new RelayError`.
  'src/errors.ts: this.message',
];

/** Messages assembled in a way the extraction cannot follow, each with where it is made. */
const BUILT_ELSEWHERE: Message[] = [
  // src/auth/authenticate.ts: MSG.signature, plus the region hint in XDR-hosted mode.
  ['Authorization failed: Failed to decode JWT with provided key'],
  ['Authorization failed: Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region.'],
  // src/cli/demo.ts: written straight to stderr.
  ['spycloud-relay demo: the relay could not start: ', null],
  ['spycloud-relay demo: the answers file ', null, ' could not be written: ', null],
  // src/cli.ts: token's notice on stderr when --limit is over what the relay shows.
  ['Note: --limit ', null, ' is more than the relay shows per value; the token says ', null, '.'],
  // src/cli/summary.ts (ownText): lookup's own words for the errors that quote SpyCloud.
  ['Authorization failed: SpyCloud refused the API key; check SPYCLOUD_API_KEY or --key.'],
  ['Unexpected answer from SpyCloud: HTTP ', null, '.'],
  // src/cli/doctor.ts: the fix of a 404 (a check's text after the arrow).
  ["SpyCloud has no such path: SPYCLOUD_API_URL must be the API's base URL with its path, https://api.spycloud.io/enterprise-v2"],
];

/** Messages that never leave the relay: the JWKS cache's own, turned into `Wrong jwks_host` (and never met by doctor's fresh fetch). */
const INTERNAL = new Set(['JWKS fetch failed recently']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    // The sandbox plays SpyCloud: its texts reach people only as SpyCloud's own (`Authorization failed: <SpyCloud's message>`).
    if (entry.isDirectory()) return entry.name === 'sandbox' ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Joins adjacent literals and adjacent holes. */
function tidy(parts: Message): Message {
  const out: Message = [];
  for (const part of parts) {
    const last = out.at(-1);
    if (part === '') continue;
    if (part === null && last === null) continue;
    if (typeof part === 'string' && typeof last === 'string') out[out.length - 1] = last + part;
    else out.push(part);
  }
  return out;
}

const concat = (lefts: Message[], rights: Message[]): Message[] =>
  lefts.flatMap((left) => rights.map((right) => tidy([...left, ...right])));

/** The wrappers' own text around their argument, taken from the code itself. */
function wrapper(make: (...args: string[]) => string, argc: number) {
  const marks = Array.from({ length: argc }, (_, i) => `\u0000${i}\u0000`);
  const made = make(...marks);
  return (args: Message[][]): Message[] => {
    let variants: Message[] = [[]];
    let rest = made;
    marks.forEach((mark, i) => {
      const [before, after] = rest.split(mark) as [string, string];
      variants = concat(concat(variants, [[before]]), args[i] ?? [[null]]);
      rest = after;
    });
    return concat(variants, [[rest]]);
  };
}

const WRAPPERS: Record<string, ReturnType<typeof wrapper>> = {
  authError: wrapper((text) => authError(text).message, 1),
  invalidPayload: wrapper((details) => invalidPayload(details).message, 1),
  ConfigError: wrapper((variable, problem) => new ConfigError(variable, problem).message, 2),
};

interface Site {
  file: string;
  /** The expression the message comes from, as written. */
  text: string;
  /** Undefined when the expression holds no text of its own. */
  messages: Message[] | undefined;
  wrap?: ReturnType<typeof wrapper>;
  /** ConfigError's variable name, when the message has one. */
  variable?: Message[];
}

function extract(file: string): Site[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const name = relative(ROOT, file).split('\\').join('/');
  const constants = new Map<string, ts.Expression>();
  const visitConstants = (node: ts.Node) => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer !== undefined) {
      constants.set(node.name.text, node.initializer);
    }
    ts.forEachChild(node, visitConstants);
  };
  visitConstants(source);

  const unwrap = (node: ts.Expression): ts.Expression =>
    ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node) ? unwrap(node.expression) : node;

  /** The texts an expression can have; a hole for what only run time knows; undefined when it is all run time. */
  const resolve = (raw: ts.Expression): Message[] | undefined => {
    const node = unwrap(raw);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [[node.text]];
    if (ts.isTemplateExpression(node)) {
      return [tidy([node.head.text, ...node.templateSpans.flatMap((span) => [null, span.literal.text])])];
    }
    if (ts.isConditionalExpression(node)) {
      const [yes, no] = [resolve(node.whenTrue), resolve(node.whenFalse)];
      return yes === undefined || no === undefined ? undefined : [...yes, ...no];
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const [left, right] = [resolve(node.left), resolve(node.right)];
      return left === undefined && right === undefined ? undefined : concat(left ?? [[null]], right ?? [[null]]);
    }
    if (ts.isIdentifier(node)) {
      const value = constants.get(node.text);
      return value === undefined ? undefined : resolve(value);
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const object = constants.get(node.expression.text);
      const property = object !== undefined && ts.isObjectLiteralExpression(unwrap(object))
        ? (unwrap(object) as ts.ObjectLiteralExpression).properties.find((p) => p.name !== undefined && ts.isIdentifier(p.name) && p.name.text === node.name.text)
        : undefined;
      return property !== undefined && ts.isPropertyAssignment(property) ? resolve(property.initializer) : undefined;
    }
    return undefined;
  };

  const sites: Site[] = [];
  const site = (expression: ts.Expression | undefined, extra: Partial<Site> = {}) => {
    if (expression === undefined) return;
    sites.push({ file: name, text: expression.getText(source), messages: resolve(expression), ...extra });
  };
  const visit = (node: ts.Node) => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
      const args = node.arguments ?? [];
      const callee = node.expression.text;
      if (callee === 'RelayError') site(args[1]);
      if (callee === 'UsageError' || callee === 'Error') site(args[0]);
      if (callee === 'ConfigError') site(args[1], { wrap: WRAPPERS.ConfigError, variable: (args[0] && resolve(args[0])) ?? [[null]] });
    }
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (ts.isIdentifier(callee) && (callee.text === 'authError' || callee.text === 'invalidPayload')) site(node.arguments[0], { wrap: WRAPPERS[callee.text] });
      // cli.ts's usage(): a mistake on the command line.
      if (ts.isIdentifier(callee) && callee.text === 'usage') site(node.arguments[0]);
      // Log lines an operator reads: their message is the last argument.
      if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'logger'
        && ['warn', 'error', 'fatal'].includes(callee.name.text)) site(node.arguments.at(-1));
    }
    // `{ type, code, message }` error documents, and the 404/405 answers.
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'message') site(node.initializer);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

const SITES = sources(join(ROOT, 'src')).flatMap(extract);

/** Whether a site's own expression has any text, or is only run-time values. */
const hasText = (messages: Message[] | undefined): messages is Message[] =>
  messages !== undefined && messages.some((m) => m.some((part) => part !== null && part.trim() !== ''));

function messagesOf(s: Site): Message[] {
  const own = s.messages as Message[];
  if (s.wrap === undefined) return own;
  return s.wrap(s.variable === undefined ? [own] : [s.variable, own]);
}

const MESSAGES: Message[] = [
  ...SITES.filter((s) => hasText(s.messages)).flatMap(messagesOf),
  ...BUILT_ELSEWHERE,
].filter((m) => !(m.length === 1 && INTERNAL.has(m[0] as string)));

const shown = (m: Message) => m.map((part) => part ?? '<…>').join('');

/**
 * A message as a pattern: a code span of its text as written, any run-time
 * value as anything on the same line (the page writes `<id>`, `<N>`, …).
 */
const pattern = (m: Message) => new RegExp(`\`${m.map((part) =>
  part === null ? '[^\\n]*?' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '[ \\t]+')).join('')}\``);

describe('docs/troubleshooting.md', () => {
  const page = readFileSync(PAGE, 'utf8');

  it('finds the messages it should in the code (the extraction itself works)', () => {
    const texts = new Set(MESSAGES.map(shown));
    // One of each way a message is made: a constant, a conditional, a constant's property, a template, a wrapper, a log line.
    expect(texts).toContain("Authorization failed: SpyCloud does not accept calls from this relay's IP address. Ask SpyCloud to allow-list it.");
    expect(texts).toContain('The monthly SpyCloud API quota of this key is exhausted. Contact SpyCloud to raise it.');
    expect(texts).toContain('Too many requests have been made to Spycloud. Please, try again later.');
    expect(texts).toContain('Authorization failed: kid from JWT header not found in API response');
    expect(texts).toContain('SpyCloud did not answer within <…> ms.');
    expect(texts).toContain('Invalid JSON payload received. The body is larger than 1 MiB.');
    expect(texts).toContain('Invalid configuration: SECRET_KEY must be at least 32 characters long');
    expect(texts).toContain('Invalid configuration: TLS_KEY_FILE must be set together with its pair');
    expect(texts).toContain('Invalid configuration: <…> must be a whole number <…>, got "<…>"');
    expect(texts).toContain('in-flight requests did not finish in time; stopping anyway');
    expect(texts).toContain('no SpyCloud API key: set SPYCLOUD_API_KEY, or pass --key');
    // Start-up failures of Node and OpenSSL, wrapped with the variable's name.
    expect(texts).toContain('Invalid configuration: TLS_KEY_FILE is not the key of the certificate in TLS_CERT_FILE (key values mismatch): <…>');
    expect(texts).toContain('Invalid configuration: HOST "<…>" does not resolve (<…>): use an address of this machine, such as 0.0.0.0 or 127.0.0.1');
    expect(texts).toContain('Invalid configuration: <…> <…> is already in use on HOST <…> (EADDRINUSE): stop the process that listens there, or choose another <…>');
    expect(MESSAGES.length).toBeGreaterThan(60);
  });

  it('knows every place that only passes a message on', () => {
    const passing = SITES.filter((s) => !hasText(s.messages)).map((s) => `${s.file}: ${s.text}`);
    expect(passing.sort()).toEqual([...PASS_THROUGH].sort());
  });

  it('has an entry for every message', () => {
    const missing = MESSAGES.filter((m) => !pattern(m).test(page)).map(shown);
    expect([...new Set(missing)]).toEqual([]);
  });
});
