import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import { createClient } from '../../src/clients/clients.js';
import type { Config } from '../../src/config.js';
import { prepareDatabase } from '../../src/prepare.js';
import { addService, basicAuth, build, CLI_ACTOR, captureLogs, createTestDatabase, type TestLike, testConfig } from '../helpers.js';

/**
 * IP ranges over real sockets: request.ip comes from the socket (or, with TRUST_PROXY, from
 * X-Forwarded-For), which inject() cannot show. A refusal for the caller's address must be
 * indistinguishable from a wrong secret.
 */

const AUDIENCE = 'https://api.example.test/events';

/** Every client these tests use, created once on a database shared by all servers. */
const CLIENTS = {
  open: [] as string[], // no ranges: allowed from anywhere
  loopback4: ['127.0.0.0/8'],
  host4: ['127.0.0.1/32'],
  elsewhere4: ['10.0.0.0/8', '192.0.2.0/24'],
  loopback6: ['::1/128'],
  elsewhere6: ['2001:db8::/32'],
  docNet1: ['192.0.2.0/24'],
  docNet2: ['198.51.100.0/24'],
} as const;
type ClientName = keyof typeof CLIENTS;

// One database for the whole file, with every client; each test builds its own server on it.
const { database } = await createTestDatabase(t);
await prepareDatabase(database, testConfig());
await addService(database, { id: 'events', audience: AUDIENCE, scopes: ['events:read'] });
const secrets = new Map<ClientName, { clientId: string; clientSecret: string }>();
for (const [name, ranges] of Object.entries(CLIENTS) as Array<[ClientName, readonly string[]]>) {
  const { client, clientSecret } = await createClient(
    database.db,
    {
      client_id: `ip-${name.toLowerCase()}`,
      name,
      owner: 'user-1',
      grants: [{ service: 'events', scopes: ['events:read'] }],
      ip_ranges: [...ranges],
    },
    CLI_ACTOR,
    { now: Date.now() },
  );
  secrets.set(name, { clientId: client.client_id, clientSecret: clientSecret ?? '' });
}

/** Builds a Portier on the shared database, listening on `host`, and returns its origin. */
async function listening(
  t: TestLike,
  host: string,
  config: Partial<Config> = {},
): Promise<{ origin: string; logs: ReturnType<typeof captureLogs> }> {
  const logs = captureLogs('info');
  const server = await build(t, { database, config, logger: logs.logger });
  await server.app.listen({ port: 0, host });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a TCP port');
  const hostPart = address.family === 'IPv6' ? `[${host === '::' ? '::1' : host}]` : host;
  return { origin: `http://${hostPart}:${address.port}`, logs };
}

async function requestToken(
  origin: string,
  name: ClientName,
  options: { headers?: Record<string, string>; wrongSecret?: boolean; connectTo?: string } = {},
) {
  const credentials = secrets.get(name);
  if (credentials === undefined) throw new Error(`no client ${name}`);
  const secret = options.wrongSecret ? `${credentials.clientSecret}x` : credentials.clientSecret;
  const url = new URL('/oauth/token', origin);
  if (options.connectTo !== undefined) url.hostname = options.connectTo;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(credentials.clientId, secret),
      ...options.headers,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, wwwAuthenticate: res.headers.get('www-authenticate') };
}

async function assertAllowed(t: Test, origin: string, name: ClientName, headers?: Record<string, string>) {
  const res = await requestToken(origin, name, headers === undefined ? {} : { headers });
  t.equal(res.status, 200, `${name} (${CLIENTS[name].join(', ') || 'no ranges'}) gets a token`);
  t.type(res.body.access_token, 'string');
}

async function assertRefused(t: Test, origin: string, name: ClientName, headers?: Record<string, string>) {
  const res = await requestToken(origin, name, headers === undefined ? {} : { headers });
  // What the same client gets, from the same place, with a wrong secret.
  const reference = await requestToken(origin, name, { wrongSecret: true, ...(headers === undefined ? {} : { headers }) });
  t.equal(res.status, 401, `${name} (${CLIENTS[name].join(', ')}) is refused`);
  t.equal(reference.status, 401);
  t.same(res.body, reference.body, 'same body as a wrong secret');
  t.same(res.body, { error: 'invalid_client', error_description: reference.body.error_description });
  t.equal(res.wwwAuthenticate, reference.wwwAuthenticate, 'same WWW-Authenticate as a wrong secret');
}

/** The address the server saw, from the refusal it logged. */
function refusedCallers(logs: ReturnType<typeof captureLogs>): string[] {
  return logs
    .lines()
    .map((line) => /^caller (\S+) is outside/.exec(String(line.reason))?.[1])
    .filter((ip): ip is string => ip !== undefined);
}

/** Can this machine listen on `host`? */
function canListen(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port: 0, host }, () => probe.close(() => resolve(true)));
  });
}

t.test('IPv4 socket on 127.0.0.1', async (t) => {
  const { origin, logs } = await listening(t, '127.0.0.1');
  await assertAllowed(t, origin, 'open');
  await assertAllowed(t, origin, 'loopback4');
  await assertAllowed(t, origin, 'host4');
  await assertRefused(t, origin, 'elsewhere4');
  await assertRefused(t, origin, 'docNet1');
  // An IPv6 range never matches an IPv4 caller.
  await assertRefused(t, origin, 'loopback6');
  await assertRefused(t, origin, 'elsewhere6');
  // Without TRUST_PROXY (the default), X-Forwarded-For is ignored.
  await assertRefused(t, origin, 'docNet1', { 'x-forwarded-for': '192.0.2.5' });
  await assertAllowed(t, origin, 'loopback4', { 'x-forwarded-for': '192.0.2.5' });
  t.ok(refusedCallers(logs).length > 0, 'refusals name the caller in the log');
  t.ok(
    refusedCallers(logs).every((ip) => ip === '127.0.0.1'),
    'the log names the real caller, 127.0.0.1',
  );
});

const hasIpv6Loopback = await canListen('::1');
const hasDualStack = await canListen('::');

t.test('IPv6 socket on ::1', { skip: hasIpv6Loopback ? false : 'this machine has no IPv6 loopback' }, async (t) => {
  const { origin, logs } = await listening(t, '::1');
  await assertAllowed(t, origin, 'open');
  await assertAllowed(t, origin, 'loopback6');
  await assertRefused(t, origin, 'elsewhere6');
  // ::1 is not an IPv4 address: IPv4 loopback ranges do not cover it.
  await assertRefused(t, origin, 'loopback4');
  await assertRefused(t, origin, 'host4');
  t.ok(
    refusedCallers(logs).every((ip) => ip === '::1'),
    'the log names the caller ::1',
  );
});

t.test('IPv4-mapped IPv6 on a dual-stack socket', { skip: hasDualStack ? false : 'this machine cannot listen on ::' }, async (t) => {
  const { origin, logs } = await listening(t, '::');
  // Connect over IPv4: Node reports the caller as ::ffff:127.0.0.1.
  const viaIpv4 = (name: ClientName) => requestToken(origin, name, { connectTo: '127.0.0.1' });
  const allowed = await viaIpv4('loopback4');
  t.equal(allowed.status, 200, '::ffff:127.0.0.1 is inside 127.0.0.0/8');
  t.equal((await viaIpv4('host4')).status, 200, '::ffff:127.0.0.1 is inside 127.0.0.1/32');
  t.equal((await viaIpv4('open')).status, 200, 'no ranges: allowed');
  const refused = await viaIpv4('elsewhere4');
  t.equal(refused.status, 401, '::ffff:127.0.0.1 is outside 10.0.0.0/8 and 192.0.2.0/24');
  t.equal(refused.body.error, 'invalid_client');
  t.equal((await viaIpv4('elsewhere6')).status, 401, 'outside 2001:db8::/32');
  t.ok(refusedCallers(logs).includes('::ffff:127.0.0.1'), 'request.ip was the IPv4-mapped form');
});

t.test('TRUST_PROXY as a list of proxy addresses', async (t) => {
  const { origin, logs } = await listening(t, '127.0.0.1', { trustProxy: ['127.0.0.1'] });
  const forwarded = { 'x-forwarded-for': '192.0.2.5' };
  await assertAllowed(t, origin, 'docNet1', forwarded);
  await assertRefused(t, origin, 'docNet2', forwarded);
  // The header wins over the socket: the proxy's own address is not the caller.
  await assertRefused(t, origin, 'loopback4', forwarded);
  await assertAllowed(t, origin, 'open', forwarded);
  // Without the header, the proxy's address is the caller.
  await assertAllowed(t, origin, 'loopback4');
  await assertRefused(t, origin, 'docNet1');
  // Only trusted hops are skipped: a value the untrusted caller put first is not believed.
  const chain = { 'x-forwarded-for': '198.51.100.7, 192.0.2.5' };
  await assertAllowed(t, origin, 'docNet1', chain);
  await assertRefused(t, origin, 'docNet2', chain);
  t.ok(refusedCallers(logs).includes('192.0.2.5'), 'the log names the forwarded caller');
  t.notOk(refusedCallers(logs).includes('198.51.100.7'));
});

t.test('TRUST_PROXY naming another proxy: the header is not believed', async (t) => {
  const { origin } = await listening(t, '127.0.0.1', { trustProxy: ['10.1.2.3', '203.0.113.0/24'] });
  await assertRefused(t, origin, 'docNet1', { 'x-forwarded-for': '192.0.2.5' });
  await assertAllowed(t, origin, 'loopback4', { 'x-forwarded-for': '192.0.2.5' });
});

t.test('TRUST_PROXY false: the header is ignored', async (t) => {
  const { origin, logs } = await listening(t, '127.0.0.1', { trustProxy: false });
  await assertRefused(t, origin, 'docNet1', { 'x-forwarded-for': '192.0.2.5' });
  await assertRefused(t, origin, 'docNet1', { 'x-forwarded-for': '192.0.2.5', forwarded: 'for=192.0.2.5' });
  await assertAllowed(t, origin, 'loopback4', { 'x-forwarded-for': '192.0.2.5' });
  t.ok(refusedCallers(logs).every((ip) => ip === '127.0.0.1'));
});

// TRUST_PROXY may be a hop count (trust the socket peer and n-1 proxies before
// it, as proxy-addr counts). Fastify 5.12 ignores a numeric trustProxy on purpose (it trusts
// nothing, so X-Forwarded-For is never read); honouring it needs app.ts to pass Fastify a
// trust function `(address, hop) => hop < n` instead of the number.
t.test('TRUST_PROXY as a hop count', async (t) => {
  const { origin, logs } = await listening(t, '127.0.0.1', { trustProxy: 1 });
  await assertAllowed(t, origin, 'docNet1', { 'x-forwarded-for': '192.0.2.5' });
  await assertRefused(t, origin, 'docNet2', { 'x-forwarded-for': '192.0.2.5' });
  // One hop: only the last entry (added by our proxy) counts; earlier ones are the caller's say-so.
  await assertAllowed(t, origin, 'docNet1', { 'x-forwarded-for': '198.51.100.7, 192.0.2.5' });
  await assertRefused(t, origin, 'docNet2', { 'x-forwarded-for': '198.51.100.7, 192.0.2.5' });
  await assertAllowed(t, origin, 'loopback4');
  t.ok(refusedCallers(logs).includes('192.0.2.5'));
  t.notOk(refusedCallers(logs).includes('198.51.100.7'));
});
