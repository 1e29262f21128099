import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import type { Config } from '../../src/config.js';
import { auditEvents, clients } from '../../src/db/schema.js';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { fetchJwks, JWKS_CACHE_MS, JWKS_REFETCH_INTERVAL_MS, MAX_JWKS_BYTES } from '../../src/oauth/client-auth/remote-jwks.js';
import { addClient, addService, build, eventually, ISSUER, openBudgets, postToken, type TestServer } from '../helpers.js';
import { selfSignedCertificate } from '../pki.js';

// private_key_jwt with keys published at a jwks_uri: fetched over https with a deadline
// and a size limit, cached, fetched again on an unknown kid at most every few seconds,
// and never from loopback or private addresses unless JWKS_URI_ALLOW_PRIVATE says so.
// The key server is a real https server on 127.0.0.1, with a certificate made here.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const TLS = selfSignedCertificate();
const FETCH_TIMEOUT_MS = 400;

interface Signer {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function keyPair(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

/** The client's clock: real time, unless a test has moved the server's forward (then the client's goes along). */
let clientClock = () => Date.now();

async function assertion(signer: Signer, clientId: string, kid = signer.publicJwk.kid): Promise<Record<string, string>> {
  const now = Math.floor(clientClock() / 1000);
  const jwt = await new SignJWT({ iss: clientId, sub: clientId, aud: ISSUER, jti: randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'ES256', ...(kid !== undefined && { kid }) })
    .sign(signer.privateKey);
  return { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt };
}

/** An https key server on 127.0.0.1: each path answers as `routes` says; `hits` counts requests per path. */
async function keyServer(t: Test, routes: Record<string, (res: ServerResponse, req: IncomingMessage) => void>) {
  const hits: Record<string, number> = {};
  const server: Server = createServer({ key: TLS.key, cert: TLS.cert }, (req, res) => {
    const path = req.url ?? '/';
    hits[path] = (hits[path] ?? 0) + 1;
    const route = routes[path];
    if (route === undefined) {
      res.statusCode = 404;
      res.end();
      return;
    }
    route(res, req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { hits, port, url: (path: string) => `https://127.0.0.1:${port}${path}` };
}

const json = (body: unknown) => (res: ServerResponse) => {
  res.setHeader('content-type', 'application/json');
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

/** The key server trusted, private addresses allowed (it is on loopback), generous failure budgets. */
function jwksConfig(allowPrivate: boolean): Partial<Config> {
  return {
    jwksUri: { allowPrivate, ca: { file: 'test', pem: TLS.cert }, timeoutMs: FETCH_TIMEOUT_MS },
    protection: openBudgets(),
  };
}

async function remoteClient(server: TestServer, clientId: string, jwksUri: string): Promise<void> {
  await addClient(server, {
    client_id: clientId,
    auth_method: 'private_key_jwt',
    jwks_uri: jwksUri,
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
}

/** The reason the audit trail gives for the latest refusal of `clientId`. */
async function deniedBecause(server: TestServer, clientId: string, pattern: RegExp): Promise<string> {
  const rows = await eventually(
    () => server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied')),
    (found) => found.some((row) => row.clientId === clientId && pattern.test(String((row.details as { reason?: unknown }).reason))),
  );
  const reasons = rows.filter((row) => row.clientId === clientId).map((row) => String((row.details as { reason?: unknown }).reason));
  return reasons.find((reason) => pattern.test(reason)) ?? reasons.join(' | ');
}

t.test('keys from a jwks_uri: fetched once, cached, fetched again for a new kid at most every few seconds', async (t) => {
  const first = await keyPair('k1');
  const second = await keyPair('k2');
  let published: JWK[] = [first.publicJwk];
  const keys = await keyServer(t, { '/jwks.json': (res) => json({ keys: published })(res) });
  const server = await build(t, { config: jwksConfig(true) });
  clientClock = server.clock.now;
  await addService(server.database, EVENTS);
  await remoteClient(server, 'remote', keys.url('/jwks.json'));

  t.equal((await postToken(server.app, await assertion(first, 'remote'))).statusCode, 200, 'a token with the published key');
  t.equal((await postToken(server.app, await assertion(first, 'remote'))).statusCode, 200, 'and again');
  t.equal(keys.hits['/jwks.json'], 1, 'the key set was fetched once');

  // The client rotates: k2 is published. Within the refetch interval an unknown kid is refused
  // without a fetch, however many made-up kids arrive.
  published = [first.publicJwk, second.publicJwk];
  t.equal((await postToken(server.app, await assertion(second, 'remote'))).statusCode, 400, 'the new kid, too soon to fetch again');
  for (let i = 0; i < 5; i++) await postToken(server.app, await assertion(first, 'remote', `made-up-${i}`));
  t.equal(keys.hits['/jwks.json'], 1, 'no fetch for unknown kids within the interval');
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  t.equal((await postToken(server.app, await assertion(second, 'remote'))).statusCode, 200, 'after the interval: fetched again, accepted');
  t.equal(keys.hits['/jwks.json'], 2, 'one more fetch');
  t.equal((await postToken(server.app, await assertion(first, 'remote', 'made-up'))).statusCode, 400, 'an unknown kid');
  t.equal(keys.hits['/jwks.json'], 2, 'right after a fetch: none');

  // Keys dropped from the set stop working once the cached set is old.
  published = [second.publicJwk];
  t.equal((await postToken(server.app, await assertion(first, 'remote'))).statusCode, 200, 'k1 while the set is cached');
  server.clock.advance(JWKS_CACHE_MS);
  t.equal((await postToken(server.app, await assertion(first, 'remote'))).statusCode, 400, 'k1 after the cache expired');
  t.equal(keys.hits['/jwks.json'], 3, 'fetched when the cache expired');
  t.equal((await postToken(server.app, await assertion(second, 'remote'))).statusCode, 200, 'k2 still');
});

t.test('the SSRF guard: loopback and private addresses are refused unless allowed', async (t) => {
  const signer = await keyPair('k1');
  const keys = await keyServer(t, { '/jwks.json': json({ keys: [signer.publicJwk] }) });
  const server = await build(t, { config: jwksConfig(false) });
  clientClock = server.clock.now;
  await addService(server.database, EVENTS);
  await remoteClient(server, 'by-address', keys.url('/jwks.json'));
  await remoteClient(server, 'by-name', `https://localhost:${keys.port}/jwks.json`);

  t.equal((await postToken(server.app, await assertion(signer, 'by-address'))).statusCode, 400, '127.0.0.1: refused');
  t.match(await deniedBecause(server, 'by-address', /non-public/), /names a non-public address \(127\.0\.0\.1\)/);
  t.equal((await postToken(server.app, await assertion(signer, 'by-name'))).statusCode, 400, 'localhost: refused');
  t.match(await deniedBecause(server, 'by-name', /non-public/), /resolves to a non-public address/);

  const options = { allowPrivate: false, ca: TLS.cert, timeoutMs: FETCH_TIMEOUT_MS };
  for (const uri of [
    'https://10.1.2.3/jwks.json',
    'https://192.168.0.1/jwks.json',
    'https://169.254.169.254/latest/meta-data',
    'https://[::1]/jwks.json',
    'https://[::ffff:127.0.0.1]/jwks.json',
    'https://[fd00::1]/jwks.json',
    'https://0.0.0.0/jwks.json',
  ]) {
    await t.rejects(fetchJwks(uri, options), { name: 'JwksFetchError', message: /non-public address/ }, uri);
  }
  await t.rejects(fetchJwks(keys.url('/jwks.json').replace('https:', 'http:'), options), { message: /not https/ }, 'http: refused');
  // A resolver that passed the check and then answered with loopback (DNS rebinding): the
  // address the socket connected to is checked again, and the request goes no further.
  const rebinding: NonNullable<Parameters<typeof fetchJwks>[1]['lookup']> = (_host, lookupOptions, callback) => {
    if (lookupOptions.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };
  await t.rejects(
    fetchJwks(`https://localhost:${keys.port}/jwks.json`, { ...options, lookup: rebinding }),
    { message: /connected to a non-public address \(127\.0\.0\.1\)/ },
    'checked again at connect time',
  );
  await t.rejects(fetchJwks('not a url', options), { message: /not a URL/ });

  // An http jwks_uri cannot be registered (the admin API refuses it); one written to the
  // database by other means is refused when fetched.
  await remoteClient(server, 'plain-http', keys.url('/jwks.json'));
  await server.database.db
    .update(clients)
    .set({ jwksUri: keys.url('/jwks.json').replace('https:', 'http:') })
    .where(eq(clients.clientId, 'plain-http'));
  server.app.portier.generation.changed();
  t.equal((await postToken(server.app, await assertion(signer, 'plain-http'))).statusCode, 400, 'http: refused');
  t.match(await deniedBecause(server, 'plain-http', /https/), /jwks_uri is not https/);
  t.same(keys.hits, {}, 'the key server never answered a request');

  // The same server with the flag on.
  const allowed = await build(t, { config: jwksConfig(true) });
  await addService(allowed.database, EVENTS);
  await remoteClient(allowed, 'by-address', keys.url('/jwks.json'));
  t.equal((await postToken(allowed.app, await assertion(signer, 'by-address'))).statusCode, 200, 'JWKS_URI_ALLOW_PRIVATE=true: accepted');
});

t.test('a jwks_uri that fails: each a 400 invalid_client with its reason in the audit trail', async (t) => {
  const signer = await keyPair('k1');
  const big = JSON.stringify({ keys: [signer.publicJwk], padding: 'x'.repeat(MAX_JWKS_BYTES) });
  const keys = await keyServer(t, {
    '/silent': () => {
      // Never answers.
    },
    '/large': json(big),
    '/large-chunked': (res) => {
      res.setHeader('content-type', 'application/json');
      res.write(big.slice(0, 40_000));
      res.end(big.slice(40_000));
    },
    '/html': json('<html>not json</html>'),
    '/no-keys': json({ keys: [] }),
    '/not-a-set': json({ kty: 'EC' }),
    '/private': json({ keys: [{ ...signer.publicJwk, d: 'AAAA' }] }),
    '/redirect': (res) => {
      res.statusCode = 302;
      res.setHeader('location', '/jwks.json');
      res.end();
    },
  });
  const server = await build(t, { config: jwksConfig(true) });
  clientClock = server.clock.now;
  await addService(server.database, EVENTS);
  const cases: Array<[string, string, RegExp]> = [
    ['times out', '/silent', /did not answer within 400 ms/],
    ['too large (Content-Length)', '/large', /larger than 65536 bytes/],
    ['too large (chunked)', '/large-chunked', /larger than 65536 bytes/],
    ['not JSON', '/html', /not JSON/],
    ['no keys', '/no-keys', /not a JWKS with keys/],
    ['not a key set', '/not-a-set', /not a JWKS with keys/],
    ['private key material', '/private', /private or symmetric key material/],
    ['a redirect (not followed)', '/redirect', /answered HTTP 302/],
    ['a 404', '/missing', /answered HTTP 404/],
  ];
  for (const [label, path, reason] of cases) {
    const clientId = `failing${path.replace(/[^a-z]/g, '-')}`;
    await remoteClient(server, clientId, keys.url(path));
    const response = await postToken(server.app, await assertion(signer, clientId));
    t.equal(response.statusCode, 400, `${label}: 400`);
    t.same(response.json(), { error: 'invalid_client', error_description: 'client authentication failed' }, `${label}: invalid_client`);
    t.match(await deniedBecause(server, clientId, reason), reason, `${label}: the reason is audited`);
  }
  t.equal(keys.hits['/redirect'], 1, 'the redirect target was not fetched');
  t.notOk(keys.hits['/jwks.json'], 'nor anything else');

  // A failure is remembered for the refetch interval, then the URI is tried again.
  let fixed = false;
  const flaky = await keyServer(t, {
    '/jwks.json': (res) => (fixed ? json({ keys: [signer.publicJwk] })(res) : json('garbage')(res)),
  });
  await remoteClient(server, 'flaky', flaky.url('/jwks.json'));
  t.equal((await postToken(server.app, await assertion(signer, 'flaky'))).statusCode, 400, 'while the key server serves garbage');
  fixed = true;
  t.equal((await postToken(server.app, await assertion(signer, 'flaky'))).statusCode, 400, 'fixed, but within the interval');
  t.equal(flaky.hits['/jwks.json'], 1, 'not fetched again yet');
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  t.equal((await postToken(server.app, await assertion(signer, 'flaky'))).statusCode, 200, 'after the interval');
});
