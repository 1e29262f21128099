import { randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { DPOP_NONCE_WINDOW_MS, DPOP_PROOF_MAX_AGE_SECONDS, DPOP_SIGNING_ALGS } from '../../src/oauth/dpop.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  buildWithAdmin,
  CLI_ACTOR,
  CREDENTIAL_SETTINGS,
  captureLogs,
  createTestDatabase,
  ISSUER,
  postToken,
  runCli,
  type TestLike,
  type TestServer,
  testConfig,
} from '../helpers.js';

// DPoP (RFC 9449) at the token endpoint: a good proof gets a DPoP-bound token, every kind
// of bad proof is a 400 invalid_dpop_proof, dpop_bound clients must send one, server
// nonces, introspection, and the admin API refusing DPoP-bound tokens as bearer tokens.

type Response = Awaited<ReturnType<typeof postToken>>;

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const TOKEN_URL = `${ISSUER}/oauth/token`;

interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
  privateJwk: JWK;
}

async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

/** A proof for the token endpoint, made as a client would, with anything overridden. */
async function proof(
  server: TestServer,
  key: ProofKey,
  options: { header?: Record<string, unknown>; claims?: Record<string, unknown>; alg?: string } = {},
): Promise<string> {
  const claims = { htm: 'POST', htu: TOKEN_URL, iat: Math.floor(server.clock.now() / 1000), jti: randomUUID(), ...options.claims };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...options.header })
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function setup(t: TestLike, config: Parameters<typeof build>[1] = {}) {
  const server = await build(t, config);
  await addService(server.database, EVENTS);
  const client = await addClient(server, { client_id: 'dpop-client', grants: [{ service: 'events', scopes: ['events:read'] }] });
  const auth = basicAuth(client.clientId, client.clientSecret);
  const request = (headers: Record<string, string | string[]> = {}) =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, ...headers },
      payload: 'grant_type=client_credentials',
    });
  return { server, client, auth, request };
}

function expectRefused(t: Test, response: Response, error: string, label: string, description?: RegExp): void {
  t.equal(response.statusCode, 400, `${label}: 400`);
  const body = response.json() as Record<string, unknown>;
  t.equal(body.error, error, `${label}: ${error}`);
  t.type(body.error_description, 'string', `${label}: says why`);
  if (description !== undefined) t.match(body.error_description, description, `${label}: ${description}`);
}

t.test('a valid proof gets a DPoP-bound token, and introspection shows the binding', async (t) => {
  const { server, auth, request } = await setup(t);
  const key = await proofKey();
  const response = await request({ dpop: await proof(server, key) });
  t.equal(response.statusCode, 200);
  const body = response.json() as { access_token: string; token_type: string };
  t.equal(body.token_type, 'DPoP');
  const jkt = await calculateJwkThumbprint(key.jwk, 'sha256');
  t.same(decodeJwt(body.access_token).cnf, { jkt }, 'cnf.jkt is the RFC 7638 thumbprint of the proof key');
  t.notOk(response.headers['dpop-nonce'], 'no nonce unless DPOP_NONCE is on');

  const introspection = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
    payload: new URLSearchParams({ token: body.access_token }).toString(),
  });
  t.equal(introspection.json().active, true);
  t.equal(introspection.json().token_type, 'DPoP');
  t.same(introspection.json().cnf, { jkt });

  const bearer = (await request()).json() as { access_token: string; token_type: string };
  t.equal(bearer.token_type, 'Bearer', 'without a proof, a bearer token as before');
  t.notOk(decodeJwt(bearer.access_token).cnf);
});

t.test('every allowed algorithm works, and discovery lists them', async (t) => {
  const { server, request } = await setup(t);
  for (const alg of DPOP_SIGNING_ALGS) {
    const key = await proofKey(alg);
    const response = await request({ dpop: await proof(server, key, { alg }) });
    t.equal(response.statusCode, 200, alg);
  }
  const metadata = (await server.app.inject('/.well-known/oauth-authorization-server')).json();
  t.same(metadata.dpop_signing_alg_values_supported, [...DPOP_SIGNING_ALGS]);
});

t.test('bad proofs are invalid_dpop_proof, never a 500, never echoed', async (t) => {
  const logs = captureLogs('debug');
  const { server, request } = await setup(t, { logger: logs.logger });
  const key = await proofKey();
  const now = Math.floor(server.clock.now() / 1000);
  const hmac = new Uint8Array(32).fill(7);
  const unsigned = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${b64({ htm: 'POST', htu: TOKEN_URL, iat: now, jti: 'x' })}.`;
  const cases: Array<[string, string | string[], RegExp]> = [
    ['not a JWT', 'not-a-jwt', /not a signed JWT/],
    ['an empty header', '', /not a signed JWT/],
    ['typ wrong', await proof(server, key, { header: { typ: 'JWT' } }), /typ/],
    ['alg none', unsigned, /not a signed JWT/],
    ['alg none, with a signature part', `${unsigned}AAAA`, /signed with one of/],
    [
      'HS256',
      await new SignJWT({ htm: 'POST', htu: TOKEN_URL, iat: now, jti: randomUUID() })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(hmac).toString('base64url') } as JWK })
        .sign(hmac),
      /signed with one of/,
    ],
    ['a private key in jwk', await proof(server, key, { header: { jwk: key.privateJwk } }), /public key/],
    ['no jwk', await proof(server, key, { header: { jwk: undefined } }), /jwk/],
    ['signed by another key', await proof(server, await proofKey(), { header: { jwk: key.jwk } }), /signature/],
    ['wrong htm', await proof(server, key, { claims: { htm: 'GET' } }), /htm/],
    ['wrong htu', await proof(server, key, { claims: { htu: 'http://elsewhere.test/oauth/token' } }), /htu/],
    ['htu with another path', await proof(server, key, { claims: { htu: `${ISSUER}/oauth/introspect` } }), /htu/],
    ['htu with a query', await proof(server, key, { claims: { htu: `${TOKEN_URL}?x=1` } }), /query/],
    ['htu with a fragment', await proof(server, key, { claims: { htu: `${TOKEN_URL}#x` } }), /fragment/],
    ['stale iat', await proof(server, key, { claims: { iat: now - DPOP_PROOF_MAX_AGE_SECONDS - 2 } }), /too old/],
    ['future iat', await proof(server, key, { claims: { iat: now + 30 } }), /future/],
    ['iat not a number', await proof(server, key, { claims: { iat: String(now) } }), /iat/],
    ['missing jti', await proof(server, key, { claims: { jti: undefined } }), /jti/],
    ['a NUL in jti', await proof(server, key, { claims: { jti: 'a\u0000b' } }), /control characters/],
    ['ath present', await proof(server, key, { claims: { ath: 'x'.repeat(43) } }), /ath/],
    ['two DPoP headers', [await proof(server, key), await proof(server, key)], /exactly one/],
    ['two proofs in one header', `${await proof(server, key)}, ${await proof(server, key)}`, /exactly one/],
  ];
  const proofs: string[] = [];
  for (const [label, dpop, description] of cases) {
    expectRefused(t, await request({ dpop }), 'invalid_dpop_proof', label, description);
    proofs.push(...(Array.isArray(dpop) ? dpop : [dpop]).filter((value) => value.length > 20));
  }
  const text = logs.text();
  t.ok(
    proofs.every((value) => !text.includes(value.split('.')[1] ?? value)),
    'no proof reaches the log',
  );
  t.match(text, /invalid_dpop_proof/, 'the refusals are logged');
  const metrics = await server.app.inject('/metrics');
  t.ok(
    proofs.every((value) => !metrics.body.includes(value.split('.')[1] ?? value)),
    'nor the metrics',
  );
});

t.test('a proof is used once, also across two instances on one database', async (t) => {
  const { server, auth, request } = await setup(t);
  const key = await proofKey();
  const dpop = await proof(server, key);
  t.equal((await request({ dpop })).statusCode, 200);
  expectRefused(t, await request({ dpop }), 'invalid_dpop_proof', 'the same instance again', /used before/);

  const other = await build(t, { database: server.database });
  const otherRequest = (proofValue: string) =>
    other.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth, dpop: proofValue },
      payload: 'grant_type=client_credentials',
    });
  expectRefused(t, await otherRequest(dpop), 'invalid_dpop_proof', 'another instance', /used before/);
  const fresh = await proof(server, key);
  t.equal((await otherRequest(fresh)).statusCode, 200, 'a fresh proof on the other instance');
  expectRefused(t, await request({ dpop: fresh }), 'invalid_dpop_proof', 'and back on the first', /used before/);
});

t.test('a failed proof is not a failed client authentication, and comes after it', async (t) => {
  const { server, client, request } = await setup(t, { config: { protection: protection() } });
  const key = await proofKey();
  for (let i = 0; i < 5; i++) expectRefused(t, await request({ dpop: 'bad' }), 'invalid_dpop_proof', `bad proof ${i}`);
  t.equal((await request({ dpop: await proof(server, key) })).statusCode, 200, 'no failure budget was spent');
  const wrongSecret = await server.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, 'wrong'), dpop: 'bad' },
    payload: 'grant_type=client_credentials',
  });
  t.equal(wrongSecret.statusCode, 401, 'a wrong secret is answered as such, whatever the proof');
  t.equal(wrongSecret.json().error, 'invalid_client');
});

/** Failure budgets small enough that five failures would exhaust them. */
function protection() {
  return { ...testConfig().protection, failuresPerClientAndAddress: 2, failuresPerAddress: 2 };
}

t.test('a dpop_bound client must send a proof', async (t) => {
  const { server, request } = await setup(t);
  const { updateClient } = await import('../../src/clients/lifecycle.js');
  await updateClient(server.database.db, 'dpop-client', { dpop_bound: true }, CLI_ACTOR, Date.now(), undefined, CREDENTIAL_SETTINGS);
  server.app.portier.generation.changed();
  // RFC 9449 §5.2 names no code for a missing proof; RFC 6749's invalid_request it is.
  expectRefused(t, await request(), 'invalid_request', 'no proof', /DPoP proof/);
  const response = await request({ dpop: await proof(server, await proofKey()) });
  t.equal(response.statusCode, 200);
  t.equal(response.json().token_type, 'DPoP');
});

t.test('with DPOP_NONCE=true the server hands out nonces and requires them', async (t) => {
  const { server, auth, request } = await setup(t, { config: { dpopNonce: true } });
  const key = await proofKey();
  const first = await request({ dpop: await proof(server, key) });
  expectRefused(t, first, 'use_dpop_nonce', 'no nonce');
  const nonce = first.headers['dpop-nonce'];
  t.type(nonce, 'string', 'the answer carries DPoP-Nonce');

  const second = await request({ dpop: await proof(server, key, { claims: { nonce } }) });
  t.equal(second.statusCode, 200, 'with the nonce');
  t.equal(second.json().token_type, 'DPoP');
  t.equal(second.headers['dpop-nonce'], nonce, 'the success carries the current nonce too');

  const other = await build(t, { database: server.database, config: { dpopNonce: true } });
  other.clock.advance(server.clock.now() - other.clock.now());
  const elsewhere = await other.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: auth,
      dpop: await proof(server, key, { claims: { nonce } }),
    },
    payload: 'grant_type=client_credentials',
  });
  t.equal(elsewhere.statusCode, 200, 'another instance accepts the nonce: nothing shared but the key in the database');

  expectRefused(
    t,
    await request({ dpop: await proof(server, key, { claims: { nonce: 'made-up' } }) }),
    'use_dpop_nonce',
    'an unknown nonce',
  );
  server.clock.advance(DPOP_NONCE_WINDOW_MS);
  t.equal((await request({ dpop: await proof(server, key, { claims: { nonce } }) })).statusCode, 200, 'the previous window is accepted');
  server.clock.advance(DPOP_NONCE_WINDOW_MS);
  const stale = await request({ dpop: await proof(server, key, { claims: { nonce } }) });
  expectRefused(t, stale, 'use_dpop_nonce', 'a stale nonce');
  t.not(stale.headers['dpop-nonce'], nonce, 'with a fresh nonce');
  const fresh = await request({ dpop: await proof(server, key, { claims: { nonce: stale.headers['dpop-nonce'] } }) });
  t.equal(fresh.statusCode, 200, 'the fresh nonce works');
});

t.test('the admin API refuses a DPoP-bound token presented as a bearer token', async (t) => {
  const server = await buildWithAdmin(t);
  const key = await proofKey();
  const response = await postToken(
    server.app,
    { grant_type: 'client_credentials', scope: 'admin:read', resource: `${ISSUER}/admin` },
    { authorization: basicAuth('root-admin', 'root-admin-secret-0123456789'), dpop: await proof(server, key) },
  );
  t.equal(response.json().token_type, 'DPoP');
  const refused = await server.admin('GET', '/admin/clients', undefined, response.json().access_token);
  t.equal(refused.statusCode, 401);
  t.match(refused.headers['www-authenticate'], /error="invalid_token"/);
  t.match(refused.headers['www-authenticate'], /DPoP-bound/);
});

t.test('dpop_bound through the admin API: created, shown, patched, audited', async (t) => {
  const server = await buildWithAdmin(t);
  const created = await server.admin('POST', '/admin/clients', { name: 'Bound', owner: 'user-1', client_id: 'bound', dpop_bound: true });
  t.equal(created.statusCode, 201);
  t.equal(created.json().dpop_bound, true);
  const plain = await server.admin('POST', '/admin/clients', { name: 'Plain', owner: 'user-1', client_id: 'plain' });
  t.equal(plain.json().dpop_bound, false, 'off unless asked for');
  const patched = await server.admin('PATCH', '/admin/clients/bound', { dpop_bound: false });
  t.equal(patched.statusCode, 200);
  t.equal(patched.json().dpop_bound, false);
  t.equal((await server.admin('GET', '/admin/clients/bound')).json().dpop_bound, false);
  t.equal((await server.admin('PATCH', '/admin/clients/bound', { dpop_bound: 'yes' })).statusCode, 400, 'a boolean only');
  const events = (await server.admin('GET', '/admin/audit-events?client_id=bound')).json() as {
    items: Array<{ action: string; details: Record<string, unknown> }>;
  };
  const update = events.items.find((event) => event.action === 'client.updated');
  t.same(update?.details.changes, { dpop_bound: { from: true, to: false } });
  const creation = events.items.find((event) => event.action === 'client.created');
  t.equal(creation?.details.dpop_bound, true);
  const openapi = (await server.app.inject('/docs/json')).body;
  t.match(openapi, /dpop_bound/, 'the OpenAPI document has the field');
});

t.test('the CLI sets and clears dpop_bound', async (t) => {
  const { database } = await createTestDatabase(t);
  const portier = (...args: string[]) => runCli(database, args);
  t.equal((await portier('migrate')).code, 0);
  const created = await portier('clients', 'create', '--name', 'B', '--owner', 'o', '--client-id', 'cli-bound', '--dpop-bound');
  t.equal(created.code, 0);
  t.match(created.stdout, /"dpop_bound": true/);
  const cleared = await portier('clients', 'update', 'cli-bound', '--no-dpop-bound');
  t.equal(cleared.code, 0);
  t.match(cleared.stdout, /"dpop_bound": false/);
  const both = await portier('clients', 'update', 'cli-bound', '--dpop-bound', '--no-dpop-bound');
  t.not(both.code, 0, 'not both');
  t.match(both.stderr, /not both/);
});
