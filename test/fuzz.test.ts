import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { stringify as stringifyYaml } from 'yaml';
import { ADMIN_ID, ADMIN_SECRET, addService, basicAuth, buildWithAdmin, captureLogs, postToken, testConfig } from './helpers.js';

// A property-based fuzz test of the whole HTTP surface: the OAuth endpoints (with every
// method), every admin route and the public GETs, with generated bodies, query strings,
// headers and encodings, from a handful of source addresses. For every answer: no 5xx
// (the database is up, so not even a 503), an error body in the form of its area (RFC 6749
// on /oauth, RFC 9457 problem+json on /admin, JSON elsewhere) and no internal text (SQL,
// query parameters, stack traces). Afterwards the server still serves.
//
// Cost: a failed client authentication costs argon2id. The failure budgets are small and
// do not refill during the run, and the source addresses are few, so after the first few
// dozen failures a flood from an address is throttled (429) at no argon2 cost; the
// tarpit is off. One address sends only the right credentials, so the steps after client
// authentication (resources, scopes, introspection, revocation) stay reachable.
//
// FUZZ_SEED=<n> replays or varies a run; FUZZ_SCALE=<x> multiplies the number of runs;
// FUZZ_SURVEY=1 collects every failing request (grouped) instead of stopping at the first.

const SEED = Number(process.env.FUZZ_SEED ?? 20_250_601);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SURVEY = process.env.FUZZ_SURVEY === '1';
const RUNS = { oauth: Math.round(5000 * SCALE), admin: Math.round(3000 * SCALE), public: Math.round(2100 * SCALE) };
const MIN_REQUESTS = Math.round(10_000 * SCALE);
/** argon2id verifications the whole run may cost (see the comment at the top). */
const MAX_ARGON2_VERIFICATIONS = 400;

const GOOD_ID = 'good-client';
/** The good client's own address: only its right credentials are ever sent from here. */
const GOOD_ADDRESS = '192.0.2.10';
/** Where the checks after the run come from: no fuzzed request uses it. */
const CHECK_ADDRESS = '127.0.0.1';
/** Seven failure-budget keys: ::ffff:192.0.2.1 counts as 192.0.2.1, and 2001:db8::1 and ::2 share a /64. */
const FUZZ_ADDRESSES = [
  '192.0.2.1',
  '192.0.2.2',
  '198.51.100.7',
  '2001:db8::1',
  '2001:db8::2',
  '2001:db8:0:1::1',
  '::ffff:192.0.2.1',
  '::ffff:203.0.113.9',
  'fe80::1',
];
const ANY_ADDRESS = [GOOD_ADDRESS, ...FUZZ_ADDRESSES];

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const BILLING = { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read'] };
/** Clients the fuzzer may create, change, disable and delete; half exist at the start. */
/** Pieces of a form body that no decoder should choke on: stray separators, broken escapes, NUL, a lone surrogate. */
const MALFORMED_FORM_PIECES = ['&', '&&', '=', '==x', '%', '%zz', '%00', '%ED%A0%80', 'a=%E0%A4%A', ';'];

const CLIENT_POOL = Array.from({ length: 20 }, (_, i) => `fuzz-${i}`);
/** The trusted issuer of the run (its keys inline) and the ids the fuzzer's issuer calls use. */
const PLATFORM_ID = 'fuzz-platform';
const PLATFORM_ISSUER = 'https://platform.fuzz.example';
const ISSUER_POOL = [PLATFORM_ID, ...Array.from({ length: 6 }, (_, i) => `issuer-${i}`)];
const SERVICE_POOL = ['events', 'billing', 'portier-admin', ...Array.from({ length: 8 }, (_, i) => `svc-${i}`)];
/** Never targeted by a change: the admin whose token drives the run, and the client checked at the end. */
const PROTECTED = new Set([ADMIN_ID, GOOD_ID, 'off-admin', 'gone-admin']);

// ---------------------------------------------------------------------------------------
// Text, encodings and odd values
// ---------------------------------------------------------------------------------------

/**
 * Percent-encoding as encodeURIComponent does it, except that a lone surrogate becomes
 * the three bytes it would have in WTF-8 (\ud800 → %ED%A0%80) instead of throwing.
 */
function percentEncode(text: string): string {
  if (!/[\ud800-\udfff]/.test(text)) return encodeURIComponent(text);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i += 1;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(text.charAt(i));
    }
  }
  return out;
}

const formEncode = (text: string) => percentEncode(text).replace(/%20/g, '+');

/** Header values as they can arrive over HTTP: Latin-1, no control characters but tab. */
const headerSafe = (text: string) => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

const deepArray = (depth: number): unknown => {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};
const deepObject = (depth: number): unknown => {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

const NASTY = [
  '',
  ' ',
  '  ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\udc00\ud800',
  '\u001b[2J',
  '\r\n',
  '\n',
  '\t',
  '\u007f',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\u200b',
  '😀',
  '𝕏',
  'é',
  'e\u0301',
  'ÿ',
  '%00',
  '%ED%A0%80',
  '%',
  '%zz',
  '%E0%A4%A',
  '%2F',
  '+',
  '../..',
  '..%2F',
  "'; DROP TABLE clients; --",
  "1' UNION SELECT 1 --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, meant literally.
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '0',
  '-1',
  '1e309',
  'true',
  '[]',
  '{}',
  'portier_cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  '\\',
  '"',
  "'",
  '*',
  '%_',
  '\\%',
  'fuzz-1',
  'events',
  'events:read',
  'https://events.example',
  'client_credentials',
  '2024-02-30T25:61:00Z',
];
const LONG = [
  'a'.repeat(64),
  'a'.repeat(65),
  'é'.repeat(101),
  'x'.repeat(201),
  'y'.repeat(1025),
  'z'.repeat(2001),
  'w'.repeat(5000),
  '\ud800'.repeat(300),
  '%'.repeat(3000),
];
const DATES = [
  '0000-01-01T00:00:00Z',
  '10000-01-01T00:00:00Z',
  '2024-02-30T25:61:00Z',
  '0001-01-01T00:00:00Z',
  '0001-01-01T00:00:00+01:00',
  '9999-12-31T23:59:59Z',
  '9999-12-31T23:59:59.9999Z',
  '9999-12-31T23:59:59.999-01:00',
  '9999-12-31T23:59:60Z',
  '1970-01-01T00:00:00Z',
  '2000-01-01T00:00:00Z',
  '2099-01-01T00:00:00Z',
  '2099-01-01t00:00:00z',
  '2099-01-01 00:00:00Z',
  '2099-01-01T00:00:00',
  '2099-13-01T00:00:00Z',
  '2099-06-30T23:59:60Z',
  '2099-01-01T00:00:00.123456789Z',
  '+002099-01-01T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '2099-01-01',
  '2099-01-01T24:00:00Z',
  '2099-02-29T00:00:00Z',
  '2096-02-29T00:00:00+14:00',
  '2099-01-01T00:00:00+99:99',
  '2099-W01-1T00:00:00Z',
  '1e12',
  '',
];
const RAW_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '123456789012345678901234567890',
  '1E2',
  '9007199254740993',
  '604800.0',
  '604801',
  '-1',
  '0.5',
  '1.0',
  '0',
];

/** One character, mostly printable, sometimes a control character, a lone surrogate or URL syntax. */
const oddChar = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  // Any code point but a surrogate (fc.string's 'binary' unit, without the million-entry table it builds).
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 0x10ffff - 0x800 }).map((code) => String.fromCodePoint(code < 0xd800 ? code : code + 0x800)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) },
  { weight: 1, arbitrary: fc.constantFrom('%', '+', '&', '=', ':', '/', '?', '#', '"', '\\', ' ', '\u007f', '\u2028', '\ufeff', '😀') },
);
const oddText = (maxLength = 40) => fc.string({ unit: oddChar, maxLength });

const nasty: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: oddText() },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NASTY), oddText(8), fc.constantFrom(...NASTY)).map(([a, b, c]) => a + b + c) },
  { weight: 1, arbitrary: fc.constantFrom(...LONG) },
);

/** The first and last instants a timestamp may name, and their neighbours. */
const EDGE_DATES = [
  '0001-01-01T00:00:00.000Z',
  '0001-01-01T00:00:00.001Z',
  '0000-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59.998Z',
  '9999-12-31T23:59:59.999+00:00',
  '10000-01-01T00:00:00.000Z',
];

const dateText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...DATES) },
  { weight: 2, arbitrary: fc.constantFrom(...EDGE_DATES) },
  {
    weight: 2,
    arbitrary: fc
      .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
      .map((date) => date.toISOString()),
  },
  { weight: 1, arbitrary: nasty },
);

/** A JSON value of the wrong type for almost any field. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nasty },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, Number.MIN_VALUE, 604_801) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(nasty, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(nasty, nasty, { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      deepArray(500),
      deepObject(500),
      Array.from({ length: 5000 }, () => 'x'),
      { ...Array.from({ length: 300 }, () => 1) },
    ),
  },
);

/** Mostly a valid value, sometimes anything. */
const field = <T>(valid: fc.Arbitrary<T>, validWeight = 6): fc.Arbitrary<T | unknown> =>
  fc.oneof({ weight: validWeight, arbitrary: valid }, { weight: 1, arbitrary: wrongType });

/** What the fuzzer sends: one inject() call. */
interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  remoteAddress: string;
}

/** Strings cut short, for messages: a 300 KB body would drown the reproduction. */
function short(value: string, max = 160): string {
  return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, max))}…(${value.length} chars)`;
}

function describe(request: FuzzRequest): string {
  const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${short(value, 100)}`);
  const payload =
    request.payload === undefined
      ? 'none'
      : Buffer.isBuffer(request.payload)
        ? `<buffer ${request.payload.toString('hex').slice(0, 160)}>`
        : short(request.payload, 400);
  return `${request.method} ${short(request.url, 300)} from ${request.remoteAddress}\n    headers: ${headers.join(' | ')}\n    body: ${payload}`;
}

/** fast-check prints counterexamples with this: compact, with long values cut. */
function printable(request: FuzzRequest): FuzzRequest {
  Object.defineProperty(request, fc.toStringMethod, { value: () => describe(request), enumerable: false });
  return request;
}

/** Extra headers: odd Accept, hosts, forwarding, a huge header, content-length mismatches. */
const extraHeaders = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Array<[string, string]>>([]) },
  {
    weight: 3,
    arbitrary: fc.array(
      fc.oneof(
        fc.constantFrom<[string, string]>(
          ['accept', 'application/xml'],
          ['accept', '*/*;q=0'],
          ['accept-encoding', 'gzip, deflate, br'],
          ['accept-charset', 'utf-16'],
          ['content-encoding', 'gzip'],
          ['host', 'evil.example'],
          ['host', ''],
          ['x-forwarded-for', '10.0.0.1, 127.0.0.1'],
          ['x-forwarded-for', 'not-an-ip'],
          ['x-forwarded-proto', 'gopher'],
          ['forwarded', 'for="[::1]";proto=https'],
          ['x-huge', 'h'.repeat(100_000)],
          ['cookie', 'a=b; c'],
          ['expect', '100-continue'],
          ['connection', 'close'],
          ['if-none-match', '*'],
          ['range', 'bytes=0-1'],
          ['accept-version', '9.9.9'],
          ['x-http-method-override', 'DELETE'],
        ),
        fc
          .tuple(fc.constantFrom('x-odd', 'user-agent', 'referer', 'origin', 'x-request-id'), nasty)
          .map(([name, value]): [string, string] => [name, headerSafe(value)]),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
);

/** Sometimes a content-length that does not match the body. */
const lengthMismatch = fc.oneof(
  { weight: 20, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1, 1000, '0', 'abc', '-1', '1.5') },
);

function withHeaders(
  headers: Record<string, string>,
  extra: Array<[string, string]>,
  payload: string | Buffer | undefined,
  mismatch: number | string | undefined,
): Record<string, string> {
  const result = { ...headers };
  for (const [name, value] of extra) result[name] = value;
  if (mismatch !== undefined) {
    const length = payload === undefined ? 0 : Buffer.byteLength(payload);
    result['content-length'] = typeof mismatch === 'number' ? String(Math.max(0, length + mismatch)) : mismatch;
  }
  return result;
}

/** A query string from name/value pairs: properly encoded, raw (odd escapes kept), repeated, or junk. */
const queryString = (pairs: fc.Arbitrary<Array<[string, string]>>) =>
  fc
    .record({
      pairs,
      raw: fc.array(fc.boolean(), { maxLength: 12 }),
      repeat: fc.option(fc.nat(), { freq: 5 }),
      junk: fc.oneof(
        { weight: 10, arbitrary: fc.constant('') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(...MALFORMED_FORM_PIECES, '?', '#x', '&%=%', '[]=1', 'a[b]=c'),
        },
      ),
    })
    .map(({ pairs: list, raw, repeat, junk }) => {
      const all = [...list];
      if (repeat !== null && list.length > 0) all.push(list[repeat % list.length] as [string, string]);
      const parts = all.map(([name, value], i) =>
        raw[i] === true ? `${name}=${value}` : `${percentEncode(name)}=${percentEncode(value)}`,
      );
      if (junk !== '') parts.push(junk);
      return parts.length === 0 ? '' : `?${parts.join('&')}`;
    });

/** One query parameter with a value from `value`. */
const param = (name: string, value: fc.Arbitrary<string>) => value.map((v): [string, string] => [name, v]);

type Params = Record<string, { valid: fc.Arbitrary<string>; plausible: fc.Arbitrary<string> }>;

/**
 * Query strings for a list route: valid sets of its parameters, each named once and
 * properly encoded, or mixed sets with values that break a rule, repeats, raw escapes,
 * unknown parameters and junk.
 */
const queryOf = (params: Params) =>
  fc.oneof(
    {
      weight: 1,
      arbitrary: fc
        .record(Object.fromEntries(Object.entries(params).map(([name, p]) => [name, p.valid])), { requiredKeys: [] })
        .map((values) => `?${new URLSearchParams(values as Record<string, string>).toString()}`),
    },
    {
      weight: 1,
      arbitrary: queryString(
        fc.array(
          fc.oneof(...Object.entries(params).map(([name, p]) => param(name, fc.oneof(p.valid, p.plausible))), fc.tuple(nasty, nasty)),
          { maxLength: 4 },
        ),
      ),
    },
  );

// ---------------------------------------------------------------------------------------
// What a good answer looks like
// ---------------------------------------------------------------------------------------

/** Text that only a failure of ours would put in an answer. */
const INTERNAL_TEXT = [
  'Failed query',
  'params:',
  'select ',
  'insert into',
  'at /',
  'at async',
  'node:internal',
  'node_modules',
  'DrizzleQueryError',
  '.ts:',
  'SQLSTATE',
];

/** The path the request reaches: inject() resolves dot segments as a URL does. */
function pathOf(url: string): string {
  const path = url.split(/[?#]/)[0] ?? '';
  try {
    return new URL(path, 'http://portier.test').pathname;
  } catch {
    return path;
  }
}

/** Percent-escapes decoded where they decode, kept where they do not. */
function safeDecode(text: string): string {
  return text.replace(/\+/g, ' ').replace(/(?:%[0-9a-fA-F]{2})+/g, (escapes) => {
    try {
      return decodeURIComponent(escapes);
    } catch {
      return escapes;
    }
  });
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** What is wrong with this answer to this request; empty when nothing is. */
function answerFaults(request: FuzzRequest, response: LightMyRequestResponse): string[] {
  const faults: string[] = [];
  const status = response.statusCode;
  if (status >= 500) faults.push(`status ${status}`);
  const body = response.body;
  if (status >= 400) {
    // An error may quote the request (a field name, a path): only text the request did not
    // carry counts. (Answers that list stored data, such as audit events quoting refused
    // requests, may quote earlier requests: only errors are checked.)
    const payload = request.payload === undefined ? '' : request.payload.toString();
    const sent = `${request.url} ${safeDecode(request.url)} ${JSON.stringify(request.headers)} ${payload} ${safeDecode(payload)}`;
    // OAuth's registered names (urn:ietf:params:oauth:grant-type:…, named in errors) are no leak.
    const told = body.replaceAll('urn:ietf:params:', 'urn:ietf:');
    for (const text of INTERNAL_TEXT) {
      if (told.includes(text) && !sent.includes(text)) faults.push(`the body contains internal text "${text}"`);
    }
  }
  if (request.method === 'HEAD') return faults;
  const path = pathOf(request.url);
  const contentType = String(response.headers['content-type'] ?? '');
  const json = body === '' ? undefined : parseJson(body);
  if (status < 400) {
    if (/json/.test(contentType) && body !== '' && json === undefined) faults.push('a JSON content type on a body that is not JSON');
    const answer = (json ?? {}) as Record<string, unknown>;
    // Every success at /oauth is JSON, an empty one `{}` (a revocation's).
    if (
      (path === '/oauth' || path.startsWith('/oauth/')) &&
      status >= 200 &&
      (!/^application\/json\b/.test(contentType) || json === undefined)
    )
      faults.push(`a success at /oauth that is not a JSON body (${JSON.stringify(contentType)})`);
    if (status === 200 && path.startsWith('/oauth/token') && (typeof answer.access_token !== 'string' || answer.token_type !== 'Bearer'))
      faults.push('a token response without access_token and token_type Bearer');
    if (status === 200 && path.startsWith('/oauth/introspect') && typeof answer.active !== 'boolean')
      faults.push('an introspection response without active');
    return faults;
  }

  if (path === '/oauth' || path.startsWith('/oauth/')) {
    // RFC 6749 §5.2: exactly {error, error_description}, as JSON, not cached.
    if (!/^application\/json\b/.test(contentType)) faults.push(`RFC 6749 error with content-type ${JSON.stringify(contentType)}`);
    const keys = typeof json === 'object' && json !== null ? Object.keys(json).sort().join(',') : 'not an object';
    if (keys !== 'error,error_description') faults.push(`RFC 6749 error body has ${keys}`);
    const { error, error_description: description } = (json ?? {}) as Record<string, unknown>;
    if (typeof error !== 'string' || !/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/.test(error)) faults.push('RFC 6749 error is not an error code');
    if (typeof description !== 'string') faults.push('RFC 6749 error_description is not a string');
    if (response.headers['cache-control'] !== 'no-store') faults.push('RFC 6749 error without Cache-Control: no-store');
    // RFC 6749 §5.2: the Basic challenge exactly when the client tried the Authorization header.
    const triedBasic = Object.keys(request.headers).some((name) => name.toLowerCase() === 'authorization');
    if (status === 401 && triedBasic !== (response.headers['www-authenticate'] !== undefined))
      faults.push(
        `a 401 ${triedBasic ? 'without' : 'with'} a challenge, for a request ${triedBasic ? 'with' : 'without'} an Authorization header`,
      );
    if (status !== 401 && response.headers['www-authenticate'] !== undefined) faults.push(`a challenge on a ${status}`);
    // invalid_client: 401 when the client tried the Authorization header, else 400 (RFC 6749 §5.2).
    if (error === 'invalid_client' && status !== (triedBasic ? 401 : 400))
      faults.push(`invalid_client as a ${status}, for a request ${triedBasic ? 'with' : 'without'} an Authorization header`);
  } else if (path === '/admin' || path.startsWith('/admin/')) {
    // RFC 9457: type, title, status (the answer's), detail; errors[] of {path, message}.
    if (!/^application\/problem\+json\b/.test(contentType)) faults.push(`problem with content-type ${JSON.stringify(contentType)}`);
    const problem = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    if (typeof problem.type !== 'string' || typeof problem.title !== 'string' || typeof problem.detail !== 'string')
      faults.push('problem without type, title and detail');
    if (problem.status !== status) faults.push(`problem status ${String(problem.status)} on a ${status}`);
    if (problem.errors !== undefined) {
      const errors = problem.errors;
      const wellFormed =
        Array.isArray(errors) &&
        errors.length > 0 &&
        errors.every((entry: unknown) => {
          const item = entry as Record<string, unknown> | null;
          return typeof item === 'object' && item !== null && typeof item.path === 'string' && typeof item.message === 'string';
        });
      if (!wellFormed) faults.push('problem errors[] is not a list of {path, message}');
    }
  } else if (body !== '' && json === undefined) {
    faults.push('an error body that is not JSON');
  }
  return faults;
}

// ---------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------

async function setUp(t: Test) {
  const logs = captureLogs('warn');
  const protection = {
    ...testConfig().protection,
    // Small budgets that do not refill during the run, and no tarpit hold (see the top).
    failuresPerClientAndAddress: 2,
    failuresPerAddress: 6,
    failureWindowMs: 3_600_000,
    throttleDelayMs: 0,
  };
  const server = await buildWithAdmin(t, { logger: logs.logger, config: { protection } });
  const { app, database, admin } = server;
  await addService(database, EVENTS);
  await addService(database, BILLING);
  const must = async (response: Promise<LightMyRequestResponse>, status: number): Promise<Record<string, unknown>> => {
    const answer = await response;
    if (answer.statusCode !== status) throw new Error(`set-up request failed: ${answer.statusCode} ${answer.body}`);
    return answer.body === '' ? {} : (answer.json() as Record<string, unknown>);
  };

  // The known good client: granted events, callable from the good and the check address (and some fuzzed ones).
  const good = await must(
    admin('POST', '/admin/clients', {
      client_id: GOOD_ID,
      name: 'Good client',
      owner: 'user-1',
      grants: [{ service: 'events', scopes: ['events:read'] }],
      ip_ranges: ['192.0.2.0/24', '2001:db8::/48', `${CHECK_ADDRESS}/32`],
    }),
    201,
  );
  const goodSecret = String(good.client_secret);
  const goodBasic = basicAuth(GOOD_ID, goodSecret);
  const goodToken = String(
    (await must(postToken(app, { grant_type: 'client_credentials' }, { authorization: goodBasic }), 200)).access_token,
  );

  // Half of the pool exists at the start, with different shapes.
  for (const [i, clientId] of CLIENT_POOL.slice(0, 10).entries()) {
    await must(
      admin('POST', '/admin/clients', {
        client_id: clientId,
        name: `Fuzz ${i}`,
        owner: i % 2 === 0 ? 'user-1' : 'team-x',
        ...(i % 3 === 0 && { grants: [{ service: 'billing', scopes: ['billing:read'] }] }),
        ...(i % 4 === 1 && { ip_ranges: ['198.51.100.0/24'], expires_at: '2099-01-01T00:00:00Z' }),
      }),
      201,
    );
  }
  await must(admin('POST', '/admin/clients/fuzz-1/disable'), 200);

  // Admin tokens that must be refused: read-only (for writes), revoked, of a disabled and of a deleted admin client.
  const readToken = await server.tokenFor('admin:read');
  const revokedToken = await server.tokenFor('admin:read');
  await must(
    app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(ADMIN_ID, ADMIN_SECRET) },
      payload: `token=${revokedToken}`,
    }),
    200,
  );
  const adminGrant = [{ service: 'portier-admin', scopes: ['admin:read', 'admin:write'] }];
  const staleTokens: string[] = [];
  for (const clientId of ['off-admin', 'gone-admin']) {
    const created = await must(
      admin('POST', '/admin/clients', { client_id: clientId, name: clientId, owner: 'ops', grants: adminGrant }),
      201,
    );
    staleTokens.push(await server.tokenFor('admin:write', clientId, String(created.client_secret)));
  }
  await must(admin('POST', '/admin/clients/off-admin/disable'), 200);
  await must(admin('DELETE', '/admin/clients/gone-admin'), 204);

  // Tokens no server of ours signed: alg none, and ES256 with our kid but another key.
  const { active } = await app.portier.keys.get();
  const claims = { client_id: ADMIN_ID, scope: 'admin:write', jti: 'forged', sub: 'x' };
  const header = (alg: string) => base64url(JSON.stringify({ alg, typ: 'at+jwt', kid: active.kid }));
  const unsigned = `${header('none')}.${base64url(JSON.stringify({ ...claims, iss: server.config.issuer, aud: `${server.config.issuer}/admin`, exp: 9_999_999_999 }))}.`;
  const otherKey = await generateKeyPair('ES256');
  const forged = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: active.kid })
    .setIssuer(server.config.issuer)
    .setAudience(`${server.config.issuer}/admin`)
    .setExpirationTime('1h')
    .sign(otherKey.privateKey);

  // Public keys for private_key_jwt clients.
  const jwks: JWK[] = [];
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const)
    jwks.push(await exportJWK((await generateKeyPair(alg, { extractable: true })).publicKey));

  // A platform (its keys given inline: nothing is fetched), a federated client, and platform
  // tokens: one that signs in, and ones each check refuses.
  const platform = await generateKeyPair('ES256', { extractable: true });
  await must(
    admin('POST', '/admin/trusted-issuers', {
      id: PLATFORM_ID,
      issuer: PLATFORM_ISSUER,
      jwks: { keys: [{ ...(await exportJWK(platform.publicKey)), kid: 'platform-key' }] },
    }),
    201,
  );
  await must(
    admin('POST', '/admin/clients', {
      client_id: 'fuzz-federated',
      name: 'Federated',
      owner: 'ops',
      grants: [{ service: 'events', scopes: ['events:read'] }],
      auth_method: 'federated',
      federated_identities: [
        { issuer: PLATFORM_ID, subject: 'system:serviceaccount:fuzz:worker', claims: { '/kubernetes.io/namespace': 'fuzz' } },
      ],
    }),
    201,
  );
  const platformToken = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT({
      iss: PLATFORM_ISSUER,
      sub: 'system:serviceaccount:fuzz:worker',
      aud: [server.config.issuer],
      'kubernetes.io': { namespace: 'fuzz' },
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'platform-key', ...header })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(platform.privateKey);
  const platformTokens = [
    await platformToken({}),
    await platformToken({ sub: 'system:serviceaccount:fuzz:\u0000worker' }),
    await platformToken({ sub: 'x'.repeat(5000) }),
    await platformToken({ sub: { nested: true } }),
    await platformToken({ aud: 'https://elsewhere.example' }),
    await platformToken({ 'kubernetes.io': { namespace: ['fuzz'] } }),
    await platformToken({ 'kubernetes.io': null }),
    await platformToken({}, { kid: 'unknown-kid' }),
    await platformToken({ iss: 'https://untrusted.example' }),
    await platformToken({ iss: `${PLATFORM_ISSUER}\u0000` }),
    await platformToken({ padding: 'p'.repeat(20_000) }),
  ];

  return {
    ...server,
    logs,
    goodSecret,
    goodBasic,
    goodToken,
    readToken,
    revokedToken,
    staleTokens,
    unsigned,
    forged,
    jwks,
    platformTokens,
  };
}

type Fuzz = Awaited<ReturnType<typeof setUp>>;

// ---------------------------------------------------------------------------------------
// Requests to the OAuth endpoints
// ---------------------------------------------------------------------------------------

const FORM = 'application/x-www-form-urlencoded';
const FORM_TYPES = [
  FORM,
  `${FORM}; charset=utf-8`,
  `${FORM}; charset=ISO-8859-1`,
  `${FORM};charset=utf-16le`,
  'APPLICATION/X-WWW-FORM-URLENCODED',
  `${FORM} ; x=y`,
  `${FORM}x`,
  `${FORM}, application/json`,
  `${FORM}; charset="`,
  'application/x-www-form-urlencoded\t',
];
const OTHER_TYPES = [
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=XYZ',
  'application/octet-stream',
  '',
  ';',
  '*/*',
  'application/problem+json',
  'text/html; charset=utf-8',
];

function oauthArbitrary(fuzz: Fuzz): fc.Arbitrary<FuzzRequest> {
  const { goodSecret, goodToken, token: adminToken, revokedToken } = fuzz;
  const audiences = [
    'https://events.example',
    'https://billing.example',
    `${fuzz.config.issuer}/admin`,
    'urn:x:y',
    'relative/path',
    'https://events.example#frag',
    'https://events.example/',
    'HTTPS://EVENTS.EXAMPLE',
  ];
  const value = (valid: fc.Arbitrary<string>) => fc.oneof({ weight: 5, arbitrary: valid }, { weight: 2, arbitrary: nasty });
  const scope = value(
    fc.constantFrom(
      'events:read',
      'events:write',
      'events:read events:read',
      'billing:read',
      'admin:write',
      ' events:read ',
      'events:read\tevents:write',
      'a'.repeat(70_000),
    ),
  );
  const tokenValue = value(
    fc.oneof(
      fc.constantFrom(
        goodToken,
        adminToken,
        revokedToken,
        `${goodToken}x`,
        goodToken.split('.').slice(0, 2).join('.'),
        'a.b.c',
        '..',
        'eyJhbGciOiJub25lIn0.e30.',
        fuzz.unsigned,
        fuzz.forged,
      ),
      fc.tuple(nasty, nasty, nasty).map((parts) => parts.map((part) => base64url(part)).join('.')),
    ),
  );

  /** Credentials that are always right: what the good address sends. */
  // An assertion is a real authentication attempt now (private_key_jwt): a bad one is a
  // failure that spends the address's budget, so only the other addresses send one.
  const safeCredentials = fc.constantFrom('basic', 'post', 'none', 'both', 'post-id-only', 'basic-and-id');
  /** Anything: what the other addresses send. */
  const anyCredentials = fc.oneof(
    safeCredentials,
    fc.constantFrom('basic-wrong', 'post-wrong', 'basic-unknown', 'post-unknown', 'assertion', 'platform', 'platform-odd'),
    fc.constant('basic-odd'),
    fc.constant('post-odd'),
    fc.constant('header-odd'),
  );
  const oddHeader = fc.oneof(
    fc.constantFrom(
      'Basic',
      'Basic ',
      'Basic !!!',
      'Basic ====',
      'Basic YQ',
      'Basic Og==',
      'Basic OjpAOg',
      'basic Z29vZC1jbGllbnQ6eA==',
      'BASIC  Z29vZC1jbGllbnQ6eA==  ',
      'Bearer x',
      'Digest username="x"',
      'Negotiate YII=',
      'Basic Z29vZC1jbGllbnQ6eA==, Basic eDp5',
      'Basic\tZ29vZC1jbGllbnQ6eA==',
      'Basic Z29vZC1jbGllbnQ6eA==%',
      `Basic ${'A'.repeat(100_000)}`,
      `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x00, 0xc3]).toString('base64')}`,
      `Basic ${Buffer.from(`${GOOD_ID}:%zz`).toString('base64')}`,
      `Basic ${Buffer.from(`%E0%A4%A:${goodSecret}`).toString('base64')}`,
      ' ',
      '',
    ),
    nasty.map(headerSafe),
  );
  const oddCredential = fc.oneof(
    { weight: 2, arbitrary: nasty },
    { weight: 1, arbitrary: fc.constantFrom(GOOD_ID, goodSecret, `${goodSecret}\u0000`, `${GOOD_ID}:x`, 'y'.repeat(1025)) },
  );

  return fc
    .record({
      good: fc.boolean(),
      address: fc.constantFrom(...FUZZ_ADDRESSES),
      method: fc.oneof(
        { weight: 20, arbitrary: fc.constant('POST') },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'TRACE', 'QUERY') },
      ),
      path: fc.oneof(
        { weight: 30, arbitrary: fc.constantFrom('/oauth/token', '/oauth/token', '/oauth/introspect', '/oauth/revoke') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '/oauth/token/',
            '/oauth/%74oken',
            '/oauth/token%',
            '/oauth/token%00',
            '/oauth/tokenx',
            '/oauth/',
            '/oauth',
            '/oauth/token/x',
            '/oauth//token',
            '/OAUTH/TOKEN',
            '/oauth/token;x',
            '/oauth/revoke%ED%A0%80',
          ),
        },
      ),
      query: fc.oneof(
        { weight: 12, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: queryString(fc.array(param('grant_type', value(fc.constant('client_credentials'))), { maxLength: 2 })) },
      ),
      safeCredentials,
      anyCredentials,
      oddHeader,
      oddId: oddCredential,
      oddSecret: oddCredential,
      formEncodeBasic: fc.boolean(),
      unknownId: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{2,20}$/),
      platformToken: fc.constantFrom(...fuzz.platformTokens),
      platformClientId: fc.option(fc.oneof(fc.constantFrom('fuzz-federated', GOOD_ID, 'fuzz-3', 'nobody-here'), nasty), {
        freq: 2,
        nil: undefined,
      }),
      // A JWT naming the platform (or another issuer with a colon) with anything in its parts.
      oddPlatformToken: fc
        .tuple(
          fc.oneof(fc.constantFrom('{"alg":"ES256","kid":"platform-key"}', '{"alg":"none"}', '{"alg":"HS256"}', '{}'), nasty),
          fc.oneof(
            fc.constantFrom(PLATFORM_ISSUER, 'urn:a:b', 'https://untrusted.example', `${PLATFORM_ISSUER}/`),
            nasty.map((text) => `${PLATFORM_ISSUER}${text}`),
          ),
          fc.oneof(fc.jsonValue({ maxDepth: 2 }), nasty),
          fc.oneof(fc.constantFrom('', 'AAAA', '***'), nasty),
        )
        .map(
          ([header, iss, sub, signature]) =>
            `${base64url(header)}.${base64url(JSON.stringify({ iss, sub, aud: 'http://portier.test', exp: 9_999_999_999 }))}.${signature}`,
        ),
      grantType: fc.oneof(
        { weight: 8, arbitrary: fc.constant('client_credentials') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'password',
            'authorization_code',
            'urn:ietf:params:oauth:grant-type:jwt-bearer',
            'CLIENT_CREDENTIALS',
            'refresh_token',
          ),
        },
        { weight: 1, arbitrary: nasty },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
      scope: fc.option(scope, { freq: 2 }),
      resources: fc.array(value(fc.constantFrom(...audiences)), { maxLength: 3 }),
      audience: fc.option(value(fc.constantFrom(...audiences)), { freq: 5 }),
      token: fc.option(tokenValue, { freq: 4 }),
      tokenTypeHint: fc.option(value(fc.constantFrom('access_token', 'refresh_token')), { freq: 5 }),
      extra: fc.array(fc.tuple(nasty, nasty), { maxLength: 2 }),
      raw: fc.array(fc.boolean(), { maxLength: 12 }),
      repeat: fc.option(fc.nat(), { freq: 8 }),
      junk: fc.oneof(
        { weight: 15, arbitrary: fc.constant('') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(...MALFORMED_FORM_PIECES, 'grant_type', '&grant_type=', 'resource=%', 'x'.repeat(70_000)),
        },
      ),
      encoding: fc.oneof(
        { weight: 14, arbitrary: fc.constant('form') },
        { weight: 1, arbitrary: fc.constantFrom('form-type', 'json', 'multipart', 'other-type', 'none', 'none-typed', 'utf16', 'no-type') },
      ),
      formType: fc.constantFrom(...FORM_TYPES),
      otherType: fc.constantFrom(...OTHER_TYPES),
      extraHeaders,
      mismatch: lengthMismatch,
    })
    .map((spec) => {
      const remoteAddress = spec.good ? GOOD_ADDRESS : spec.address;
      const credentials = spec.good ? spec.safeCredentials : spec.anyCredentials;
      const headers: Record<string, string> = {};
      // [name, value, sent as is (odd escapes kept)]
      const pairs: Array<[string, string, boolean]> = [];
      // RFC 6749 §2.3.1 form-encodes id and secret before base64; some clients do not.
      const basic = (id: string, secret: string) =>
        `Basic ${Buffer.from(spec.formEncodeBasic ? `${formEncode(id)}:${formEncode(secret)}` : `${id}:${secret}`).toString('base64')}`;
      switch (credentials) {
        case 'basic':
          headers.authorization = basicAuth(GOOD_ID, goodSecret);
          break;
        case 'basic-and-id':
          headers.authorization = basicAuth(GOOD_ID, goodSecret);
          pairs.push(['client_id', GOOD_ID, false]);
          break;
        case 'post':
          pairs.push(['client_id', GOOD_ID, false], ['client_secret', goodSecret, false]);
          break;
        case 'post-id-only':
          pairs.push(['client_id', GOOD_ID, false]);
          break;
        case 'both':
          headers.authorization = basicAuth(GOOD_ID, goodSecret);
          pairs.push(['client_secret', goodSecret, false]);
          break;
        case 'assertion':
          pairs.push(
            ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', false],
            ['client_assertion', 'a.b.c', false],
          );
          break;
        case 'platform':
          pairs.push(
            ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', false],
            ['client_assertion', spec.platformToken, false],
          );
          if (spec.platformClientId !== undefined) pairs.push(['client_id', spec.platformClientId, false]);
          break;
        case 'platform-odd':
          pairs.push(
            ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', false],
            ['client_assertion', spec.oddPlatformToken, spec.raw[0] === true],
          );
          break;
        case 'basic-wrong':
          headers.authorization = basic(GOOD_ID, spec.oddSecret);
          break;
        case 'post-wrong':
          pairs.push(['client_id', GOOD_ID, false], ['client_secret', spec.oddSecret, false]);
          break;
        case 'basic-unknown':
          headers.authorization = basic(spec.unknownId, spec.oddSecret);
          break;
        case 'post-unknown':
          pairs.push(['client_id', spec.unknownId, false], ['client_secret', spec.oddSecret, false]);
          break;
        case 'basic-odd':
          headers.authorization = headerSafe(basic(spec.oddId, spec.oddSecret));
          break;
        case 'post-odd':
          pairs.push(['client_id', spec.oddId, spec.raw[0] === true], ['client_secret', spec.oddSecret, spec.raw[1] === true]);
          break;
        case 'header-odd':
          headers.authorization = spec.oddHeader;
          break;
        case 'none':
          break;
      }
      const credentialCount = pairs.length;
      const other: Array<[string, string | undefined | null]> = [
        ['grant_type', spec.grantType],
        ['scope', spec.scope],
        ...spec.resources.map((resource): [string, string] => ['resource', resource]),
        ['audience', spec.audience],
        ['token', spec.token],
        ['token_type_hint', spec.tokenTypeHint],
        ...spec.extra,
      ];
      other.forEach(([name, v], i) => {
        if (typeof v === 'string') pairs.push([name, v, spec.raw[(i + 2) % Math.max(spec.raw.length, 1)] === true]);
      });
      if (spec.repeat !== null && pairs.length > 0) {
        // From the good address, a repeated parameter is never a credential: a repeated
        // client_secret is an invalid_request anyway, but keep that address's budget whole.
        const index = spec.good
          ? credentialCount + (spec.repeat % Math.max(pairs.length - credentialCount, 1))
          : spec.repeat % pairs.length;
        const repeated = pairs[index];
        if (repeated !== undefined) pairs.push(repeated);
      }
      let form = pairs.map(([name, v, raw]) => (raw ? `${name}=${v}` : `${formEncode(name)}=${formEncode(v)}`)).join('&');
      if (spec.junk !== '') form = form === '' ? spec.junk : `${form}&${spec.junk}`;

      let payload: string | Buffer | undefined = form;
      switch (spec.encoding) {
        case 'form':
          headers['content-type'] = FORM;
          break;
        case 'form-type':
          headers['content-type'] = spec.formType;
          break;
        case 'json':
          headers['content-type'] = 'application/json';
          payload = JSON.stringify(Object.fromEntries(pairs.map(([name, v]) => [name, v])));
          break;
        case 'multipart':
          headers['content-type'] = 'multipart/form-data; boundary=XYZ';
          payload = `${pairs.map(([name, v]) => `--XYZ\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`).join('')}--XYZ--\r\n`;
          break;
        case 'other-type':
          headers['content-type'] = spec.otherType;
          break;
        case 'none':
          payload = undefined;
          break;
        case 'none-typed':
          headers['content-type'] = FORM;
          payload = undefined;
          break;
        case 'utf16':
          headers['content-type'] = `${FORM}; charset=utf-16le`;
          payload = Buffer.from(form, 'utf16le');
          break;
        case 'no-type':
          break;
      }
      if (spec.method === 'GET' || spec.method === 'HEAD') payload = undefined;
      return printable({
        method: spec.method,
        url: `${spec.path}${spec.query}`,
        headers: withHeaders(headers, spec.extraHeaders, payload, spec.mismatch),
        ...(payload === undefined ? {} : { payload }),
        remoteAddress,
      });
    });
}

// ---------------------------------------------------------------------------------------
// Requests to the admin API
// ---------------------------------------------------------------------------------------

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-16',
  'application/json;charset=latin1',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/problem+json',
  'application/json, text/plain',
  'application/json; boundary=x',
  'application/json ; charset="utf-8"',
  ' application/json',
  'application/jsonx',
  'text/json',
];
const BROKEN_JSON = [
  '{',
  '{"name":',
  '[1,]',
  "{'a':1}",
  '{"a":1}}',
  '',
  ' ',
  'nul',
  'null',
  '""',
  '[]',
  '1',
  'true',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"name":"\\ud800","owner":"x"}',
  '{"name":"\\u0000","owner":"x"}',
  '{"name":"a","name":"b","owner":"x"}',
  '\ufeff{"name":"a","owner":"x"}',
  '{"name":"a\u0000","owner":"x"}',
  '{"name":"a\u0001"}',
  `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
  '{"name":"x","owner":"y"',
  '{"a":1e999999}',
  '{"a":"\\uZZZZ"}',
  '{"a":"\\x41"}',
  '{"a":01}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":undefined}',
  '{"a":1,}',
  '/* c */{}',
  '{"a":"\ud800"}',
];

type Body = { payload?: string | Buffer; contentType?: string };

/** A JSON body from `value`, or the same value badly encoded, or a broken document. */
function jsonBody(value: fc.Arbitrary<unknown>, numericFields: string[]): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 24, arbitrary: value.map((v): Body => ({ payload: JSON.stringify(v) ?? 'null', contentType: 'application/json' })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(value, fc.constantFrom(...JSON_TYPES))
        .map(([v, type]): Body => ({ payload: JSON.stringify(v) ?? 'null', contentType: type })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(value, fc.constantFrom(...RAW_NUMBERS), fc.constantFrom(...numericFields)).map(([v, number, name]): Body => {
        const object = typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
        return {
          payload: JSON.stringify({ ...object, [name]: '\u0000RAW\u0000' }).replace('"\\u0000RAW\\u0000"', number),
          contentType: 'application/json',
        };
      }),
    },
    { weight: 2, arbitrary: fc.constantFrom(...BROKEN_JSON).map((text): Body => ({ payload: text, contentType: 'application/json' })) },
    {
      weight: 1,
      arbitrary: value.map(
        (v): Body => ({
          payload:
            typeof v === 'object' && v !== null
              ? Object.entries(v)
                  .map(([k, x]) => `${formEncode(k)}=${formEncode(typeof x === 'string' ? x : (JSON.stringify(x) ?? ''))}`)
                  .join('&')
              : String(v),
          contentType: FORM,
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: value.map(
        (v): Body => ({ payload: Buffer.from(JSON.stringify(v) ?? 'null', 'utf16le'), contentType: 'application/json; charset=utf-16le' }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Body>(
        {},
        { contentType: 'application/json' },
        { payload: 'name=x&owner=y', contentType: 'text/plain' },
        {
          payload: '--B\r\ncontent-disposition: form-data; name="name"\r\n\r\nx\r\n--B--\r\n',
          contentType: 'multipart/form-data; boundary=B',
        },
        { payload: '{"name":"x","owner":"y"}' },
        { payload: Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), contentType: 'application/json' },
        { payload: Buffer.from('{"name":"\xed\xa0\x80","owner":"y"}', 'latin1'), contentType: 'application/json' },
        { payload: `{"name":"${'x'.repeat(300_000)}","owner":"y"}`, contentType: 'application/json' },
        { payload: `{"description":"${'\\u0041'.repeat(50_000)}"}`, contentType: 'application/json' },
      ),
    },
  );
}

type Fields = Record<string, { valid: fc.Arbitrary<unknown>; plausible: fc.Arbitrary<unknown> }>;

interface AdminCall {
  method: string;
  path: string;
  query?: string;
  body?: Body;
}

function adminArbitrary(fuzz: Fuzz): fc.Arbitrary<FuzzRequest> {
  const issuer = fuzz.config.issuer;
  const validClientId = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{2,24}$/);
  const clientId = fc
    .oneof(
      { weight: 10, arbitrary: fc.constantFrom(...CLIENT_POOL) },
      { weight: 2, arbitrary: validClientId },
      { weight: 2, arbitrary: nasty },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'ab',
          'a'.repeat(64),
          'a'.repeat(65),
          'Upper-Case',
          '-lead',
          '.dot',
          'has space',
          'client-ÿ',
          'fuzz-0\u0000',
          'fuzz-0 ',
          'bulk',
        ),
      },
    )
    .filter((id) => !PROTECTED.has(id));
  const serviceId = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...SERVICE_POOL) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{1,20}$/) },
    { weight: 2, arbitrary: nasty },
  );
  /** A path segment: encoded, or with odd escapes, slashes or dots added as they are. */
  const segment = (id: fc.Arbitrary<string>) =>
    fc
      .tuple(
        id,
        fc.oneof(
          { weight: 12, arbitrary: fc.constant('') },
          {
            weight: 1,
            arbitrary: fc.constantFrom('%', '%zz', '%00', '%ED%A0%80', '%2F', '/', '/..', '%2e%2e', ';x', '%E0%A4%A', 'x'.repeat(120)),
          },
        ),
      )
      .map(([text, suffix]) => `${percentEncode(text)}${suffix}`);

  const scopeName = fc.constantFrom(
    'events:read',
    'events:write',
    'billing:read',
    'admin:read',
    'admin:write',
    'nosuch:scope',
    'new:scope',
  );
  const validGrants = fc
    .tuple(fc.option(fc.subarray(EVENTS.scopes)), fc.option(fc.subarray(BILLING.scopes)))
    .map(([events, billing]) => [
      ...(events === null ? [] : [{ service: 'events', scopes: events }]),
      ...(billing === null ? [] : [{ service: 'billing', scopes: billing }]),
    ]);
  const grant = fc.record(
    {
      service: field(fc.constantFrom('events', 'billing', 'svc-1', 'nosuch', 'portier-admin')),
      scopes: field(fc.uniqueArray(scopeName, { maxLength: 3 })),
    },
    { requiredKeys: ['service', 'scopes'] },
  );
  const validCidr = fc.oneof(
    fc.constantFrom(
      '192.0.2.0/24',
      '10.0.0.1',
      '::1',
      '2001:db8::/32',
      '::ffff:10.0.0.0/104',
      '0.0.0.0/0',
      '::/0',
      '::ffff:0:0/96',
      'fe80::1/64',
      '192.0.2.7/24',
      '::ffff:1.2.3.4/95',
    ),
    fc.ipV4(),
    fc.tuple(fc.ipV4(), fc.nat(32)).map(([address, prefix]) => `${address}/${prefix}`),
    fc.tuple(fc.ipV6(), fc.nat(128)).map(([address, prefix]) => `${address}/${prefix}`),
  );
  const ipRange = fc.oneof(
    validCidr,
    fc.constantFrom(
      '1.2.3.4/33',
      '010.0.0.1',
      '1.2.3',
      '::1/129',
      '/',
      '.',
      ':',
      ':::',
      '1.2.3.4/',
      '1.2.3.4/-1',
      '1.2.3.4/08',
      '1.2.3.4/ 8',
      '0x7f.0.0.1',
      '1.2.3.4%eth0',
      '::ffff:1.2.3.4/200',
    ),
    fc.ipV6(),
    fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(140)).map(([address, prefix]) => `${address}/${prefix}`),
    fc.stringMatching(/^[0-9a-fA-F.:/]{2,64}$/),
  );
  const validJwks = fc.record({ keys: fc.uniqueArray(fc.constantFrom(...fuzz.jwks), { minLength: 1, maxLength: 3 }) });
  /** A public key as sent: one of ours, one with members changed (a private part, another curve…), or anything. */
  const jwk = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fuzz.jwks) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...fuzz.jwks),
          fc.record(
            {
              kid: field(fc.string({ maxLength: 20 })),
              alg: field(fc.constantFrom('ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256', 'HS256', 'none', 'RSA-OAEP')),
              use: field(fc.constantFrom('sig', 'enc')),
              crv: field(fc.constantFrom('P-256', 'P-384', 'P-999', 'Ed25519', 'X25519')),
              kty: field(fc.constantFrom('EC', 'RSA', 'OKP', 'oct')),
              x: wrongType,
              d: fc.constant('AAAA'),
              k: fc.constant('AAAA'),
              e: fc.constantFrom('AQAB', 'AAAA', ''),
              x5c: wrongType,
              key_ops: wrongType,
              ext: wrongType,
            },
            { requiredKeys: [] },
          ),
        )
        .map(([key, changes]) => ({ ...key, ...changes })),
    },
    { weight: 1, arbitrary: wrongType },
  );
  const anyJwks = fc.oneof(
    { weight: 4, arbitrary: fc.record({ keys: fc.array(jwk, { maxLength: 3 }) }) },
    { weight: 1, arbitrary: validJwks },
  );
  const futureDate = fc.oneof(
    fc
      .date({ min: new Date('2030-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
      .map((date) => date.toISOString()),
    fc.constantFrom(
      '9999-12-31T23:59:59Z',
      '9999-12-31T23:59:59.999+00:00',
      '2099-01-01T00:00:00+14:00',
      '2099-01-01t00:00:00z',
      '2099-01-01 00:00:00Z',
      '2099-06-30T23:59:59.123456789Z',
    ),
  );
  const graphemes = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 });
  const text = (maxLength: number) => fc.oneof(fc.string({ minLength: 1, maxLength }), graphemes);
  const role = fc.constantFrom('events-reader', 'admin', 'r1', 'r:2', 'x'.repeat(100));

  /** Each field of a body: values a valid request has, and plausible ones that break a rule. */
  const clientFields: Fields = {
    name: { valid: text(30), plausible: fc.oneof(nasty, fc.constant('n'.repeat(201))) },
    description: {
      valid: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('', 'line 1\nline 2\r\n\ttabbed', 'd'.repeat(2000))),
      plausible: fc.oneof(nasty, fc.constant('d'.repeat(2001))),
    },
    first_name: { valid: fc.option(text(20)), plausible: nasty },
    last_name: { valid: fc.option(text(20)), plausible: nasty },
    roles: {
      valid: fc.uniqueArray(role, { maxLength: 4 }),
      plausible: fc.oneof(fc.array(fc.oneof(role, nasty), { maxLength: 4 }), fc.constant(Array.from({ length: 51 }, (_, i) => `r${i}`))),
    },
    grants: { valid: validGrants, plausible: fc.array(grant, { maxLength: 3 }) },
    ip_ranges: { valid: fc.array(validCidr, { maxLength: 4 }), plausible: fc.array(ipRange, { minLength: 1, maxLength: 4 }) },
    expires_at: { valid: fc.option(futureDate, { freq: 3 }), plausible: dateText },
  };
  const createFields: Fields = {
    ...clientFields,
    client_id: { valid: fc.oneof(fc.constantFrom(...CLIENT_POOL), validClientId).filter((id) => !PROTECTED.has(id)), plausible: clientId },
    owner: {
      valid: fc.constantFrom('user-1', 'team-x', 'ops'),
      plausible: fc.oneof(nasty, fc.constantFrom('x'.repeat(200), 'x'.repeat(201), 'has space')),
    },
    auth_method: { valid: fc.constant('client_secret'), plausible: fc.constantFrom('private_key_jwt', 'none', '') },
    jwks: { valid: fc.constant(null), plausible: anyJwks },
  };
  const unknownFields = fc.dictionary(
    fc.constantFrom('secret', 'client_secret', 'enabled', 'status', 'id', 'created_by', 'extra', '__proto__', 'constructor', ''),
    wrongType,
    { minKeys: 1, maxKeys: 2 },
  );

  /** Bodies that are valid, and bodies with fields that break a rule, have the wrong type or are unknown. */
  const bodyOf = (fields: Fields, requiredKeys: string[]): fc.Arbitrary<Record<string, unknown>> => {
    const valid = fc.record(Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.valid])), { requiredKeys });
    const fuzzed = fc.record(
      Object.fromEntries(
        Object.entries(fields).map(([name, f]) => [
          name,
          fc.oneof({ weight: 4, arbitrary: f.valid }, { weight: 2, arbitrary: f.plausible }, { weight: 1, arbitrary: wrongType }),
        ]),
      ),
      { requiredKeys: [] },
    );
    const unknown = fc.tuple(fuzzed, unknownFields).map(([body, extra]) => ({ ...body, ...extra }));
    return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 5, arbitrary: fuzzed }, { weight: 1, arbitrary: unknown });
  };

  /** Platform identities as sent: of trusted issuers or not, with any subject and claims. */
  const identities = fc.array(
    fc.record(
      {
        issuer: field(fc.constantFrom(...ISSUER_POOL, 'nosuch', 'No Such')),
        subject: field(fc.oneof(text(30), fc.constantFrom('system:serviceaccount:a:b', 'x'.repeat(513), 'a\u0000b'))),
        claims: field(
          fc.dictionary(
            fc.oneof(fc.constantFrom('/a~1b', '/x~2', 'repository_owner', '/kubernetes.io/namespace', 'a b', ''), nasty),
            fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), wrongType),
            { maxKeys: 3 },
          ),
        ),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 12 },
  );

  const createClient = fc.oneof(
    { weight: 5, arbitrary: bodyOf(createFields, ['name', 'owner']) },
    // federated, with identities valid or not.
    {
      weight: 1,
      arbitrary: fc
        .tuple(bodyOf(clientFields, ['name']), identities)
        .map(([body, federated]) => ({ ...body, owner: 'ops', auth_method: 'federated', federated_identities: federated })),
    },
    // private_key_jwt with a key set, valid or not.
    {
      weight: 1,
      arbitrary: fc
        .tuple(bodyOf(clientFields, ['name']), fc.oneof(validJwks, anyJwks))
        .map(([body, jwks]) => ({ ...body, owner: 'ops', auth_method: 'private_key_jwt', jwks })),
    },
  );
  const patchClient = bodyOf(
    {
      ...clientFields,
      client_id: { valid: fc.constant(undefined), plausible: clientId },
      owner: { valid: fc.constant(undefined), plausible: fc.constantFrom('user-1', 'x') },
    },
    [],
  );
  const validBulkIds = fc.uniqueArray(
    fc.oneof(fc.constantFrom(...CLIENT_POOL), validClientId).filter((id) => !PROTECTED.has(id)),
    { minLength: 1, maxLength: 6 },
  );
  const bulk = bodyOf(
    {
      action: { valid: fc.constantFrom('enable', 'disable'), plausible: fc.constantFrom('ENABLE', 'delete', '') },
      client_ids: {
        valid: validBulkIds,
        plausible: fc.oneof(
          { weight: 40, arbitrary: fc.array(clientId, { minLength: 1, maxLength: 6 }) },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              Array.from({ length: 201 }, (_, i) => `bulk-${i}`),
              Array.from({ length: 40 }, () => 'fuzz-2'),
              [],
            ),
          },
        ),
      },
    },
    ['action', 'client_ids'],
  );
  const regenerate = fc.oneof(
    {
      weight: 4,
      arbitrary: bodyOf(
        {
          previous_secret_valid_for: {
            valid: fc.oneof(fc.integer({ min: 0, max: 604_800 }), fc.constantFrom(0, 604_800)),
            plausible: fc.constantFrom(604_801, -1, 1.5, 2 ** 53, '60'),
          },
        },
        [],
      ),
    },
    { weight: 1, arbitrary: fc.constant(null) },
  );
  const serviceFields: Fields = {
    name: { valid: text(30), plausible: nasty },
    description: { valid: fc.string({ maxLength: 60 }), plausible: nasty },
    audience: {
      valid: fc.oneof(
        fc.integer({ min: 0, max: 9 }).map((i) => `https://svc-${i}.example`),
        fc.constantFrom('https://events.example', 'urn:x:y', `${issuer}/admin`),
      ),
      plausible: fc.oneof(
        nasty,
        fc.constantFrom('relative', 'https://x.example#f', 'https://x.example/ path', 'a:b', 'https://', `https://${'h'.repeat(490)}.x`),
      ),
    },
    scopes: {
      valid: fc.uniqueArray(fc.oneof(scopeName, fc.stringMatching(/^[a-z]{1,8}:[a-z]{1,8}$/)), { maxLength: 4 }),
      plausible: fc.array(fc.oneof(scopeName, fc.constantFrom('a b', 'x\\y', 'q"z', ''), nasty), { maxLength: 4 }),
    },
  };
  const createService = bodyOf(
    {
      id: { valid: fc.oneof(fc.constantFrom(...SERVICE_POOL), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{1,20}$/)), plausible: serviceId },
      ...serviceFields,
    },
    ['id', 'name', 'audience'],
  );
  const patchService = bodyOf({ id: { valid: fc.constant(undefined), plausible: serviceId }, ...serviceFields }, []);

  const trustedIssuerId = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...ISSUER_POOL) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9._-]{3,20}$/) },
    { weight: 2, arbitrary: nasty },
  );
  const issuerFields: Fields = {
    issuer: {
      valid: fc.oneof(
        fc.constantFrom('https://a.example', 'https://b.example/tenant', PLATFORM_ISSUER),
        fc.webUrl({ validSchemes: ['https'] }),
      ),
      plausible: fc.oneof(
        nasty,
        fc.constantFrom('http://x.example', 'https://x.example/?q=1', 'https://x.example/#f', 'https://u:p@x.example', 'https://'),
      ),
    },
    jwks_uri: {
      valid: fc.option(fc.constantFrom('https://keys.example/jwks')),
      plausible: fc.oneof(nasty, fc.constantFrom('http://keys.example')),
    },
    jwks: { valid: fc.option(validJwks), plausible: anyJwks },
    audience: { valid: fc.option(fc.constantFrom('https://portier.example', 'urn:x:y')), plausible: nasty },
    max_token_age: {
      valid: fc.integer({ min: 60, max: 86_400 }),
      plausible: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(59, 86_401, '600')),
    },
    algorithms: {
      valid: fc.uniqueArray(fc.constantFrom('RS256', 'ES256', 'PS256', 'EdDSA'), { minLength: 1 }),
      plausible: fc.array(fc.constantFrom('none', 'HS256', 'ES384', 'RS256', ''), { maxLength: 5 }),
    },
  };
  const createIssuer = bodyOf({ id: { valid: trustedIssuerId, plausible: nasty }, ...issuerFields }, ['id', 'issuer']);
  const patchIssuer = bodyOf({ id: { valid: fc.constant(undefined), plausible: trustedIssuerId }, ...issuerFields }, []);
  // A configuration document: entries of the create bodies' fields, most without a valid id.
  const configDocument = fc.record(
    {
      services: fc.array(createService, { maxLength: 3 }),
      clients: fc.array(
        fc.tuple(createClient, fc.oneof(fc.constantFrom(...CLIENT_POOL), clientId)).map(([body, id]) => ({ client_id: id, ...body })),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: [] },
  );
  const configBody = fc.oneof(
    { weight: 3, arbitrary: jsonBody(configDocument, ['services']) },
    {
      weight: 1,
      arbitrary: configDocument.map((document): Body => ({ payload: stringifyYaml(document), contentType: 'application/yaml' })),
    },
  );
  const configQuery = fc.constantFrom('', '?dry_run=true', '?prune=true', '?dry_run=true&prune=true', '?dry_run=yes', '?prune=');

  const anyQuery = queryString(fc.array(fc.tuple(nasty, nasty), { maxLength: 2 }));
  /** Valid instants, the first and last there are among them. */
  const validDate = fc.oneof(
    fc.constantFrom(
      ...EDGE_DATES.filter((date) => /^0001|^9999/.test(date)),
      '2099-01-01T00:00:00+14:00',
      '0001-01-01T00:00:00-00:01',
      '2099-01-01 00:00:00Z',
    ),
    fc
      .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
      .map((date) => date.toISOString()),
  );
  const limit = {
    valid: fc.oneof(fc.integer({ min: 1, max: 200 }).map(String), fc.constantFrom('1', '200', '050', '1e2', '2.0')),
    plausible: fc.oneof(
      fc.constantFrom('0', '-1', '201', '1.5', 'abc', '', ' 1', '0x10', '99999999999999999999', 'Infinity'),
      fc.integer().map(String),
    ),
  };
  const clientCursor = {
    valid: fc.constantFrom(...CLIENT_POOL, 'a', 'zzz').map((after) => base64url(JSON.stringify({ after }))),
    plausible: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((after) => base64url(JSON.stringify({ after }) ?? '')),
      fc.jsonValue({ maxDepth: 2 }).map((v) => base64url(JSON.stringify(v) ?? '')),
      nasty.map((after) => base64url(JSON.stringify({ after }))),
      fc.constantFrom(
        base64url(Buffer.from('{"after":"\xed\xa0\x80"}', 'latin1')),
        base64url('{"after":"fuzz-3","__proto__":{"after":"x"}}'),
        base64url('{"after":"fuzz-3"'),
        '',
        '=',
        '!!!',
        'e30',
        'a'.repeat(401),
        `${base64url(JSON.stringify({ after: 'fuzz-3' }))}==`,
        '%00',
        '%ED%A0%80',
      ),
      nasty,
    ),
  };
  const text0 = fc.string({ maxLength: 20 });
  const clientQuery = queryOf({
    name: { valid: fc.oneof(text0, fc.constantFrom('fuzz', 'Fuzz 1', '%', '_', '\\')), plausible: nasty },
    owner: { valid: fc.constantFrom('user-1', 'team-x', 'ops', ''), plausible: nasty },
    created_by: { valid: fc.constantFrom(ADMIN_ID, 'cli', 'bootstrap'), plausible: nasty },
    status: { valid: fc.constantFrom('active', 'disabled', 'expired'), plausible: fc.oneof(fc.constantFrom('ACTIVE', ''), nasty) },
    service: { valid: fc.constantFrom(...SERVICE_POOL), plausible: nasty },
    expires_before: { valid: validDate, plausible: dateText },
    expires_after: { valid: validDate, plausible: dateText },
    limit,
    cursor: clientCursor,
  });
  const auditQuery = queryOf({
    action: { valid: fc.constantFrom('client.created', 'client.updated', 'token.denied', 'service.updated', ''), plausible: nasty },
    client_id: { valid: fc.constantFrom(...CLIENT_POOL, GOOD_ID, ''), plausible: nasty },
    actor_client_id: { valid: fc.constantFrom(ADMIN_ID, 'cli', 'bootstrap'), plausible: nasty },
    since: { valid: validDate, plausible: dateText },
    until: { valid: validDate, plausible: dateText },
    limit,
    cursor: {
      valid: fc.oneof(fc.nat().map(String), fc.constantFrom('1', '0', '999999999999999999', '00001')),
      plausible: fc.oneof(fc.constantFrom('-1', '9999999999999999999', '1e3', 'abc', '', ' 1', '18446744073709551616'), nasty),
    },
  });

  const none = fc.constant(undefined);
  const call = (
    method: string,
    path: fc.Arbitrary<string>,
    query: fc.Arbitrary<string> = fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: anyQuery }),
    body: fc.Arbitrary<Body | undefined> = none,
  ) => fc.record({ method: fc.constant(method), path, query, body }).map((c): AdminCall => c);
  const clientPath = (suffix = '') => segment(clientId).map((id) => `/admin/clients/${id}${suffix}`);
  const servicePath = segment(serviceId).map((id) => `/admin/services/${id}`);
  const issuerPath = segment(trustedIssuerId).map((id) => `/admin/trusted-issuers/${id}`);
  const maybeBody = (body: fc.Arbitrary<Body>) => fc.oneof({ weight: 6, arbitrary: none }, { weight: 1, arbitrary: body });

  const calls = fc.oneof(
    { weight: 40, arbitrary: call('GET', fc.constant('/admin/clients'), clientQuery) },
    {
      weight: 14,
      arbitrary: call(
        'POST',
        fc.constant('/admin/clients'),
        undefined,
        jsonBody(createClient, ['name', 'expires_at', 'roles', 'client_id']),
      ),
    },
    { weight: 14, arbitrary: call('GET', clientPath()) },
    {
      weight: 20,
      arbitrary: call('PATCH', clientPath(), undefined, jsonBody(patchClient, ['name', 'expires_at', 'description', 'first_name'])),
    },
    { weight: 5, arbitrary: call('DELETE', clientPath(), undefined, maybeBody(jsonBody(wrongType, ['a']))) },
    { weight: 5, arbitrary: call('POST', clientPath('/enable'), undefined, maybeBody(jsonBody(wrongType, ['a']))) },
    { weight: 5, arbitrary: call('POST', clientPath('/disable'), undefined, maybeBody(jsonBody(wrongType, ['a']))) },
    {
      weight: 4,
      arbitrary: call('POST', clientPath('/secret'), undefined, fc.oneof(none, jsonBody(regenerate, ['previous_secret_valid_for']))),
    },
    { weight: 10, arbitrary: call('POST', fc.constant('/admin/clients/bulk'), undefined, jsonBody(bulk, ['action', 'client_ids'])) },
    { weight: 6, arbitrary: call('GET', fc.constant('/admin/services')) },
    { weight: 10, arbitrary: call('POST', fc.constant('/admin/services'), undefined, jsonBody(createService, ['id', 'name', 'scopes'])) },
    { weight: 8, arbitrary: call('GET', servicePath) },
    { weight: 12, arbitrary: call('PATCH', servicePath, undefined, jsonBody(patchService, ['id', 'audience', 'scopes'])) },
    { weight: 5, arbitrary: call('DELETE', servicePath) },
    { weight: 4, arbitrary: call('GET', fc.constant('/admin/trusted-issuers')) },
    {
      weight: 6,
      arbitrary: call(
        'POST',
        fc.constant('/admin/trusted-issuers'),
        undefined,
        jsonBody(createIssuer, ['max_token_age', 'id', 'algorithms']),
      ),
    },
    { weight: 4, arbitrary: call('GET', issuerPath) },
    { weight: 6, arbitrary: call('PATCH', issuerPath, undefined, jsonBody(patchIssuer, ['issuer', 'max_token_age', 'algorithms'])) },
    { weight: 3, arbitrary: call('DELETE', issuerPath) },
    { weight: 5, arbitrary: call('GET', fc.constant('/admin/keys')) },
    { weight: 1, arbitrary: call('POST', fc.constant('/admin/keys/rotate'), undefined, maybeBody(jsonBody(wrongType, ['a']))) },
    { weight: 24, arbitrary: call('GET', fc.constant('/admin/audit-events'), auditQuery) },
    { weight: 4, arbitrary: call('POST', fc.constant('/admin/config/apply'), configQuery, configBody) },
    { weight: 2, arbitrary: call('GET', fc.constant('/admin/config')) },
    {
      weight: 4,
      arbitrary: call(
        'GET',
        fc.oneof(
          fc.constantFrom(
            '/admin',
            '/admin/',
            '/admin/nothing',
            '/admin/clients/fuzz-2/x',
            '/admin/clients/bulk/x',
            '/admin/audit-events/1',
            '/admin/keys/rotate',
            '/admin/services/',
            '/admin/clients//enable',
            '/admin/%',
            '/admin/clients/%',
            '/admin/../oauth/token',
            '/admin/clients/fuzz-2/secret/',
          ),
          segment(nasty).map((text) => `/admin/${text}`),
        ),
      ),
    },
  );

  const { token: writeToken, readToken, revokedToken, goodToken, staleTokens, unsigned, forged } = fuzz;
  const authorization = fc.oneof(
    { weight: 40, arbitrary: fc.constant(`Bearer ${writeToken}`) },
    { weight: 5, arbitrary: fc.constant(`Bearer ${readToken}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Bearer  ',
        `bearer ${writeToken}`,
        `BEARER   ${writeToken}   `,
        `Bearer\t${writeToken}`,
        `Bearer ${writeToken}x`,
        `Bearer ${writeToken.slice(0, -5)}`,
        `Bearer ${goodToken}`,
        `Bearer ${revokedToken}`,
        ...staleTokens.map((stale) => `Bearer ${stale}`),
        `Bearer ${writeToken}, Bearer ${writeToken}`,
        `Basic ${Buffer.from(`${ADMIN_ID}:x`).toString('base64')}`,
        `Bearer ${unsigned}`,
        `Bearer ${forged}`,
        `Bearer ${'A'.repeat(100_000)}`,
        'Bearer a.b.c',
        `Bearer ${'.'.repeat(1000)}`,
        'Bearer ==',
        'Bearer =a',
        'Digest x',
        ' ',
        '',
        `Bearer ${writeToken.split('.').reverse().join('.')}`,
        `Bearer ${base64url('{"alg":"ES256"}')}.${base64url('[]')}.x`,
      ),
    },
    { weight: 1, arbitrary: nasty.map((text) => headerSafe(`Bearer ${text}`)) },
  );

  return fc
    .record({
      call: calls,
      authorization,
      method: fc.oneof(
        { weight: 25, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND') },
      ),
      address: fc.constantFrom(...ANY_ADDRESS),
      extraHeaders,
      mismatch: lengthMismatch,
    })
    .map((spec) => {
      const { body } = spec.call;
      const method = spec.method ?? spec.call.method;
      const payload = method === 'GET' || method === 'HEAD' ? undefined : body?.payload;
      const headers: Record<string, string> = {};
      if (spec.authorization !== undefined) headers.authorization = spec.authorization;
      if (body?.contentType !== undefined) headers['content-type'] = body.contentType;
      return printable({
        method,
        url: `${spec.call.path}${spec.call.query ?? ''}`,
        headers: withHeaders(headers, spec.extraHeaders, payload, spec.mismatch),
        ...(payload === undefined ? {} : { payload }),
        remoteAddress: spec.address,
      });
    });
}

// ---------------------------------------------------------------------------------------
// The public GETs
// ---------------------------------------------------------------------------------------

const PUBLIC_PATHS = [
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/healthz',
  '/readyz',
  '/docs/json',
];
const ODD_PUBLIC_PATHS = [
  '/metrics',
  '/docs/yaml',
  '/docs',
  '/docs/',
  '/docs/static/index.html',
  '/.well-known/',
  '/.well-known/nothing',
  '/.well-known/jwks.json/x',
  '/docs/static/../../package.json',
  '/docs/static/%2e%2e/%2e%2e/package.json',
  '/',
  '/favicon.ico',
  '/healthz/',
  '//healthz',
  '/HEALTHZ',
  '/metrics%00',
  '/.well-known/%ED%A0%80',
  '/docs/%',
  '/healthz%',
  '/.well-known/jwks.json%zz',
  '/docs/static/%00',
];

function publicArbitrary(): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      path: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...PUBLIC_PATHS) },
        { weight: 1, arbitrary: fc.constantFrom(...ODD_PUBLIC_PATHS) },
      ),
      query: fc.oneof(
        { weight: 4, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: queryString(fc.array(fc.tuple(nasty, nasty), { maxLength: 3 })) },
      ),
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant('GET') },
        { weight: 1, arbitrary: fc.constantFrom('HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') },
      ),
      body: fc.option(
        fc.constantFrom<Body>(
          { payload: '{}', contentType: 'application/json' },
          { payload: 'a=b', contentType: FORM },
          { payload: '{', contentType: 'application/json' },
          { payload: 'x', contentType: 'text/plain' },
        ),
        { freq: 6 },
      ),
      authorization: fc.option(fc.constantFrom('Bearer x', 'Basic !!!', 'Basic Og==', `Bearer ${'A'.repeat(100_000)}`), { freq: 6 }),
      address: fc.constantFrom(...ANY_ADDRESS),
      extraHeaders,
    })
    .map((spec) => {
      const payload = spec.method === 'GET' || spec.method === 'HEAD' ? undefined : spec.body?.payload;
      const headers: Record<string, string> = {};
      if (spec.authorization !== null) headers.authorization = spec.authorization;
      if (payload !== undefined && spec.body?.contentType !== undefined) headers['content-type'] = spec.body.contentType;
      return printable({
        method: spec.method,
        url: `${spec.path}${spec.query}`,
        headers: withHeaders(headers, spec.extraHeaders, payload, undefined),
        ...(payload === undefined ? {} : { payload }),
        remoteAddress: spec.address,
      });
    });
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

t.test('fuzz: no request makes Portier fail, answer ill-formed errors or leak internals', async (t) => {
  t.comment(`fast-check seed ${SEED} (FUZZ_SEED=${SEED} replays this run)`);
  const fuzz = await setUp(t);
  const { app } = fuzz;
  let sent = 0;
  let answering = 0;
  const statuses = new Map<string, number>();
  /** FUZZ_SURVEY=1: every fault, by kind, with the shortest request that showed it. */
  const survey = new Map<string, { count: number; example: string }>();

  async function send(request: FuzzRequest): Promise<LightMyRequestResponse> {
    sent += 1;
    const started = performance.now();
    const response = await app.inject({
      method: request.method as InjectOptions['method'],
      url: request.url,
      headers: request.headers,
      remoteAddress: request.remoteAddress,
      ...(request.payload === undefined ? {} : { payload: request.payload }),
    });
    answering += performance.now() - started;
    return response;
  }

  async function fuzzArea(t: Test, area: string, arbitrary: fc.Arbitrary<FuzzRequest>, numRuns: number, seed: number): Promise<void> {
    const started = Date.now();
    const cpu = process.cpuUsage();
    const before = sent;
    const answeringBefore = answering;
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        const response = await send(request);
        const key = `${area} ${response.statusCode}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        const faults = answerFaults(request, response);
        if (faults.length === 0) return;
        const report = `${faults.join('; ')}\n    answer: ${response.statusCode} ${short(response.body, 400)}`;
        if (!SURVEY) throw new Error(report);
        const kind = `${faults.join('; ')} [${request.method} ${pathOf(request.url).replace(/[^/]{24,}/g, '…')} → ${response.statusCode}]`;
        const example = `${describe(request)}\n    answer: ${response.statusCode} ${short(response.body, 300)}`;
        const entry = survey.get(kind);
        if (entry === undefined) survey.set(kind, { count: 1, example });
        else {
          entry.count += 1;
          if (example.length < entry.example.length) entry.example = example;
        }
      }),
      { seed, numRuns },
    );
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    const { user, system } = process.cpuUsage(cpu);
    t.pass(
      `${area}: ${sent - before} requests in ${seconds(Date.now() - started)} s (${seconds(answering - answeringBefore)} s of it answering, ${seconds((user + system) / 1000)} s CPU)`,
    );
  }

  await t.test('OAuth endpoints', (t) => fuzzArea(t, 'oauth', oauthArbitrary(fuzz), RUNS.oauth, SEED));
  await t.test('admin API', (t) => fuzzArea(t, 'admin', adminArbitrary(fuzz), RUNS.admin, SEED + 1));
  await t.test('public GETs', (t) => fuzzArea(t, 'public', publicArbitrary(), RUNS.public, SEED + 2));

  t.comment(
    `answers: ${[...statuses.entries()]
      .sort()
      .map(([key, count]) => `${key}: ${count}`)
      .join(', ')}`,
  );
  if (SURVEY) {
    for (const [kind, { count, example }] of survey) t.comment(`${count} × ${kind}\n  ${example}`);
    t.equal(survey.size, 0, 'no faults found');
  }

  await t.test('afterwards the server still serves', async (t) => {
    t.ok(sent >= MIN_REQUESTS, `at least ${MIN_REQUESTS} requests were sent (${sent})`);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    t.equal(health.statusCode, 200, '/healthz answers 200');
    // From CHECK_ADDRESS, inject()'s default, whose failure budget no fuzzed request spent.
    const token = await postToken(app, { grant_type: 'client_credentials' }, { authorization: fuzz.goodBasic });
    t.equal(token.statusCode, 200, `the good client still gets a token${token.statusCode === 200 ? '' : ` (${token.body})`}`);
    const list = await fuzz.admin('GET', '/admin/clients?limit=200');
    t.equal(list.statusCode, 200, 'the admin API still lists clients');
    const ids = (list.json() as { items: Array<{ client_id: string }> }).items.map((item) => item.client_id);
    t.ok(ids.includes(GOOD_ID), 'with the good client among them');
    const metric = await app.portier.metrics.argon2Verifications.get();
    const verifications = metric.values[0]?.value ?? 0;
    t.ok(verifications <= MAX_ARGON2_VERIFICATIONS, `the failure budgets kept argon2 work small (${verifications} verifications)`);
    const errors = fuzz.logs.lines().filter((line) => Number(line.level) >= 50);
    t.same(
      errors.map((line) => `${String(line.msg)} ${JSON.stringify(line.err ?? '').slice(0, 300)}`),
      [],
      'nothing was logged as an error',
    );
  });
});
