import { createHmac, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { auditEvents } from '../../src/db/schema.js';
import { createLogger } from '../../src/logger.js';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  buildWithAdmin,
  captureLogs,
  eventually,
  ISSUER,
  openBudgets,
  postToken,
  refusalReasons,
  runCli,
  type TestServer,
  testConfig,
} from '../helpers.js';

// private_key_jwt client authentication (RFC 7523 §2.2) with keys registered in the
// client's jwks: what is accepted, and each way an assertion is refused. Every refusal is
// the same 400 invalid_client (the assertion is in the body, not the Authorization header);
// the reason is in the log and the audit trail only.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

interface Signer {
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
}

async function keyPair(alg: string, kid: string | undefined): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), ...(kid !== undefined && { kid }), alg };
  return { privateKey, publicJwk, privateJwk: { ...(await exportJWK(privateKey)), ...(kid !== undefined && { kid }) } };
}

/** A client assertion as a client makes one: iss = sub = client_id, aud = issuer, 60 s, a fresh jti. */
async function makeAssertion(
  signer: Signer,
  clientId: string,
  options: { claims?: JWTPayload; header?: Record<string, unknown>; omit?: string[] } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = { iss: clientId, sub: clientId, aud: ISSUER, iat: now, exp: now + 60, jti: randomUUID(), ...options.claims };
  for (const name of options.omit ?? []) delete claims[name];
  const alg = signer.publicJwk.alg ?? 'ES256';
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...(signer.publicJwk.kid !== undefined && { kid: signer.publicJwk.kid }), ...options.header })
    .sign(signer.privateKey);
}

function assertionForm(assertion: string, extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion, ...extra };
}

type Response = Awaited<ReturnType<typeof postToken>>;

function expectInvalidClient(t: Test, response: Response, label: string): void {
  t.equal(response.statusCode, 400, `${label}: 400`);
  t.same(response.json(), { error: 'invalid_client', error_description: 'client authentication failed' }, `${label}: invalid_client`);
  // RFC 6749 §5.2 asks for a 401 and its challenge only when the client tried HTTP Basic; an
  // assertion gets a 400 and the JSON body alone, which is what client libraries show the application.
  t.notOk(response.headers['www-authenticate'], `${label}: no challenge (Basic was not tried)`);
  t.equal(response.headers['cache-control'], 'no-store', `${label}: no-store`);
}

async function setUp(t: Test, config: Parameters<typeof build>[1] = {}) {
  const server = await build(t, config);
  await addService(server.database, EVENTS);
  const signer = await keyPair('ES256', 'k1');
  const client = await addClient(server, {
    client_id: 'jwt-client',
    auth_method: 'private_key_jwt',
    jwks: { keys: [signer.publicJwk] },
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  return { server, signer, client };
}

const readDenials = (server: TestServer) => server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));

t.test('a client with registered keys gets a token with an assertion', async (t) => {
  const { server, signer, client } = await setUp(t);
  const ok = await postToken(server.app, assertionForm(await makeAssertion(signer, client.clientId)));
  t.equal(ok.statusCode, 200, 'token issued');
  t.equal(ok.json().scope, 'events:read');

  const withId = await postToken(server.app, assertionForm(await makeAssertion(signer, client.clientId), { client_id: client.clientId }));
  t.equal(withId.statusCode, 200, 'with the matching client_id as well');

  const toEndpoint = await makeAssertion(signer, client.clientId, { claims: { aud: TOKEN_ENDPOINT } });
  t.equal((await postToken(server.app, assertionForm(toEndpoint))).statusCode, 200, 'aud: the token endpoint URL');
  const asArray = await makeAssertion(signer, client.clientId, { claims: { aud: ['https://elsewhere.example', ISSUER] } });
  t.equal((await postToken(server.app, assertionForm(asArray))).statusCode, 200, 'aud: an array naming the issuer');
  const noIat = await makeAssertion(signer, client.clientId, { omit: ['iat'] });
  t.equal((await postToken(server.app, assertionForm(noIat))).statusCode, 200, 'iat is optional');

  // Every allowed algorithm, each with a key of its own.
  for (const alg of ['ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519']) {
    const other = await keyPair(alg, `key-${alg}`);
    const id = `jwt-${alg.toLowerCase()}`;
    await addClient(server, {
      client_id: id,
      auth_method: 'private_key_jwt',
      jwks: { keys: [other.publicJwk] },
      grants: [{ service: 'events', scopes: ['events:read'] }],
    });
    t.equal((await postToken(server.app, assertionForm(await makeAssertion(other, id)))).statusCode, 200, alg);
  }
});

t.test('Ed25519 (RFC 9864) and EdDSA: one Ed25519 key, either name', async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  const grants = [{ service: 'events', scopes: ['events:read'] }];
  const ed = await keyPair('Ed25519', 'ed');
  const { alg: _alg, ...unmarked } = ed.publicJwk;
  const registrations: Array<[string, JWK]> = [
    ['marked EdDSA', { ...unmarked, alg: 'EdDSA' }],
    ['marked Ed25519', { ...unmarked, alg: 'Ed25519' }],
    ['without alg', unmarked],
  ];
  for (const [label, jwk] of registrations) {
    const id = `ed-${label.replace(/ /g, '-').toLowerCase()}`;
    await addClient(server, { client_id: id, auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, grants });
    for (const alg of ['Ed25519', 'EdDSA']) {
      const assertion = await makeAssertion({ ...ed, publicJwk: { ...ed.publicJwk, alg } }, id);
      t.equal((await postToken(server.app, assertionForm(assertion))).statusCode, 200, `a key ${label}, an assertion signed as ${alg}`);
    }
  }
  // The name is the only thing the two share: an EC key marked ES256 serves no Ed25519 assertion.
  const ec = await keyPair('ES256', 'ed');
  await addClient(server, { client_id: 'ec-only', auth_method: 'private_key_jwt', jwks: { keys: [ec.publicJwk] }, grants });
  const forged = await new SignJWT({ iss: 'ec-only', sub: 'ec-only', aud: ISSUER, jti: randomUUID() })
    .setProtectedHeader({ alg: 'Ed25519', kid: 'ed' })
    .setExpirationTime('1m')
    .sign(ed.privateKey);
  expectInvalidClient(t, await postToken(server.app, assertionForm(forged)), 'an Ed25519 assertion for a client with an EC key');
});

t.test('kid selection: without a kid only a single suitable key will do', async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  const grants = [{ service: 'events', scopes: ['events:read'] }];
  const lone = await keyPair('ES256', undefined);
  await addClient(server, { client_id: 'one-key', auth_method: 'private_key_jwt', jwks: { keys: [lone.publicJwk] }, grants });
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(lone, 'one-key')))).statusCode, 200, 'one key, no kid');

  const a = await keyPair('ES256', 'a');
  const b = await keyPair('ES256', 'b');
  await addClient(server, { client_id: 'two-keys', auth_method: 'private_key_jwt', jwks: { keys: [a.publicJwk, b.publicJwk] }, grants });
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(b, 'two-keys')))).statusCode, 200, 'two keys, kid b');
  const noKid = await new SignJWT({ iss: 'two-keys', sub: 'two-keys', aud: ISSUER, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256' })
    .setExpirationTime('1m')
    .sign(a.privateKey);
  expectInvalidClient(t, await postToken(server.app, assertionForm(noKid)), 'two keys, no kid');
  // A key of another type does not count as suitable: an RSA key beside one EC key.
  const rsa = await keyPair('RS256', 'r');
  const ec = await keyPair('ES256', undefined);
  await addClient(server, { client_id: 'mixed', auth_method: 'private_key_jwt', jwks: { keys: [rsa.publicJwk, ec.publicJwk] }, grants });
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(ec, 'mixed')))).statusCode, 200, 'the one EC key among others');
});

t.test('bad assertions: each one 400 invalid_client, the reason in the audit trail', async (t) => {
  const logs = captureLogs('info');
  // Budgets large enough for every case to reach its own check.
  const protection = openBudgets();
  const { server, signer, client } = await setUp(t, { logger: logs.logger, config: { protection } });
  const id = client.clientId;
  const now = Math.floor(Date.now() / 1000);
  const stranger = await keyPair('ES256', 'k1');
  const publicPem = await exportSPKI((await generateKeyPair('ES256', { extractable: true })).publicKey);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k1' }));
  const payload = b64url(JSON.stringify({ iss: id, sub: id, aud: ISSUER, exp: now + 60, jti: randomUUID() }));
  // HS256 "signed" with the public key, as a key-confusion attack does.
  const hmacWithPublicKey = `${header}.${payload}.${createHmac('sha256', JSON.stringify(signer.publicJwk)).update(`${header}.${payload}`).digest('base64url')}`;
  const hmacWithPem = `${header}.${payload}.${createHmac('sha256', publicPem).update(`${header}.${payload}`).digest('base64url')}`;
  const unsigned = `${b64url(JSON.stringify({ alg: 'none', kid: 'k1' }))}.${payload}.`;

  const replayed = await makeAssertion(signer, id);
  t.equal((await postToken(server.app, assertionForm(replayed))).statusCode, 200, 'first use of the assertion');

  const cases: Array<[string, string, RegExp, Record<string, string>?]> = [
    ['not a JWT', 'not-a-jwt', /not a compact JWS/, { client_id: id }],
    ['three parts that are not JSON', 'aaaa.bbbb.cccc', /not a JWT/, { client_id: id }],
    ['not a JWT, no client_id', 'not-a-jwt', /not a well-formed client_id/],
    ['alg none', unsigned, /alg "none" is not allowed/],
    ['HS256 keyed with the public JWK', hmacWithPublicKey, /alg "HS256" is not allowed/],
    ['HS256 keyed with the public PEM', hmacWithPem, /alg "HS256" is not allowed/],
    ['unregistered kid', await makeAssertion(signer, id, { header: { kid: 'nope' } }), /no registered key matches kid "nope"/],
    ['signed by another key with the same kid', await makeAssertion(stranger, id), /signature does not verify/],
    ['expired', await makeAssertion(signer, id, { claims: { iat: now - 600, exp: now - 300 } }), /has expired/],
    ['exp far in the future', await makeAssertion(signer, id, { claims: { exp: now + 7200 } }), /exp is more than 3600 s ahead/],
    ['no exp', await makeAssertion(signer, id, { omit: ['exp'] }), /"exp" claim/],
    ['a lifetime over an hour', await makeAssertion(signer, id, { claims: { iat: now - 2000, exp: now + 2000 } }), /lifetime/],
    ['iat in the future', await makeAssertion(signer, id, { claims: { iat: now + 120 } }), /iat is in the future/],
    ['nbf in the future', await makeAssertion(signer, id, { claims: { nbf: now + 120 } }), /"nbf" claim/],
    ['wrong aud', await makeAssertion(signer, id, { claims: { aud: 'https://other.example' } }), /"aud" claim/],
    ['aud the introspection endpoint', await makeAssertion(signer, id, { claims: { aud: `${ISSUER}/oauth/other` } }), /"aud" claim/],
    ['replayed jti', replayed, /jti was used before/],
    ['missing jti', await makeAssertion(signer, id, { omit: ['jti'] }), /"jti" claim/],
    ['empty jti', await makeAssertion(signer, id, { claims: { jti: '' } }), /jti must be a string/],
    // PostgreSQL refuses a NUL in text: such an id must never reach the replay store.
    ['a jti with a NUL byte', await makeAssertion(signer, id, { claims: { jti: 'a\u0000b' } }), /jti must be a string/],
    ['iss differs from sub', await makeAssertion(signer, id, { claims: { sub: 'someone-else' } }), /"sub" claim/],
    ['iss another client', await makeAssertion(signer, id, { claims: { iss: 'someone-else' } }), /"iss" claim/, { client_id: id }],
    ['client_id differs from iss', await makeAssertion(signer, id), /"iss" claim/, { client_id: 'other-client' }],
    [
      'a header jwk with private members',
      await makeAssertion(signer, id, { header: { jwk: signer.privateJwk } }),
      /header carries a jwk with private key material/,
    ],
    ['a wrong assertion type', await makeAssertion(signer, id), /unsupported client_assertion_type/, { client_assertion_type: 'urn:x' }],
  ];
  for (const [label, assertion, , extra] of cases) {
    expectInvalidClient(t, await postToken(server.app, assertionForm(assertion, extra)), label);
  }
  const rows = await eventually(
    () => readDenials(server),
    (found) => found.length >= cases.length,
  );
  for (const [label, , reason] of cases) {
    t.ok(
      rows.some((row) => reason.test(String((row.details as { reason?: unknown }).reason))),
      `${label}: the audit trail has the reason`,
    );
  }
  const logText = logs.text();
  for (const [label, assertion] of cases) {
    if (assertion.length > 20) t.notOk(logText.includes(assertion), `${label}: the assertion is not logged`);
  }
  t.notOk(logText.includes(replayed.split('.')[2] ?? 'x'), 'no signature in the log');
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(signer, id)))).statusCode, 200, 'still serving');
});

t.test('CLIENT_ASSERTION_MAX_LIFETIME: an hour-long assertion is accepted once, its jti kept until exp', async (t) => {
  const logs = captureLogs('info');
  const { server, signer, client } = await setUp(t, { logger: logs.logger, config: { protection: openBudgets() } });
  const now = Math.floor(Date.now() / 1000);
  // Authlib's PrivateKeyJWT: exp = iat + 3600.
  const hourLong = await makeAssertion(signer, client.clientId, { claims: { iat: now, exp: now + 3600 } });
  t.equal((await postToken(server.app, assertionForm(hourLong))).statusCode, 200, 'accepted (the default maximum is an hour)');
  expectInvalidClient(t, await postToken(server.app, assertionForm(hourLong)), 'used again at once');
  server.clock.advance(59 * 60_000);
  expectInvalidClient(t, await postToken(server.app, assertionForm(hourLong)), 'used again 59 minutes later');
  server.clock.advance(2 * 60_000);
  expectInvalidClient(t, await postToken(server.app, assertionForm(hourLong)), 'used again after exp');
  // The second replay repeats the first within a second: counted in a closing line, so last.
  const reasons = await refusalReasons(logs);
  t.equal(reasons.length, 3, 'three refusals');
  t.match(reasons, [/jti was used before/, /has expired/, /jti was used before/], 'refused as a replay while it lives, as expired after');

  const tooLong = await makeAssertion(signer, client.clientId, { claims: { iat: now, exp: now + 3700 } });
  expectInvalidClient(t, await postToken(server.app, assertionForm(tooLong)), 'beyond the maximum (and its 30 s of skew)');
});

t.test('CLIENT_ASSERTION_MAX_LIFETIME=300: five minutes at most', async (t) => {
  const { server, signer, client } = await setUp(t, { config: { clientAssertionMaxLifetime: 300 } });
  const now = Math.floor(Date.now() / 1000);
  const fiveMinutes = await makeAssertion(signer, client.clientId, { claims: { iat: now, exp: now + 300 } });
  t.equal((await postToken(server.app, assertionForm(fiveMinutes))).statusCode, 200, 'exp − now = 300: accepted');
  expectInvalidClient(
    t,
    await postToken(server.app, assertionForm(await makeAssertion(signer, client.clientId, { claims: { exp: now + 600 } }))),
    'exp ten minutes ahead',
  );
  const rows = await eventually(
    () => readDenials(server),
    (found) => found.length >= 1,
  );
  t.match(
    String((rows[0]?.details as { reason?: unknown } | undefined)?.reason),
    /exp is more than 300 s ahead/,
    'the reason names the limit',
  );
});

t.test('mixing methods', async (t) => {
  const { server, signer, client } = await setUp(t);
  const secretClient = await addClient(server, { client_id: 'secret-client', grants: [{ service: 'events', scopes: ['events:read'] }] });
  const assertion = await makeAssertion(signer, client.clientId);

  const withBodySecret = await postToken(server.app, assertionForm(assertion, { client_id: client.clientId, client_secret: 'x' }));
  t.equal(withBodySecret.statusCode, 400, 'an assertion and a body secret: 400');
  t.equal(withBodySecret.json().error, 'invalid_request');
  const withBasic = await postToken(server.app, assertionForm(assertion), { authorization: basicAuth(client.clientId, 'x') });
  t.equal(withBasic.statusCode, 400, 'an assertion and Basic: 400');
  t.equal(withBasic.json().error, 'invalid_request');
  const typeOnly = await postToken(server.app, { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE });
  t.equal(typeOnly.statusCode, 400, 'a type without an assertion: 400');
  const assertionOnly = await postToken(server.app, { grant_type: 'client_credentials', client_assertion: assertion });
  t.equal(assertionOnly.statusCode, 400, 'an assertion without its type: 400');

  // A secret for a private_key_jwt client; an assertion for a client_secret client.
  const secretForJwtClient = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, secretClient.clientSecret) },
  );
  t.equal(secretForJwtClient.statusCode, 401, 'a secret for a private_key_jwt client: 401');
  t.ok(secretForJwtClient.headers['www-authenticate'], 'with WWW-Authenticate, as Basic was tried');
  const secretKeys = await keyPair('ES256', 'k1');
  expectInvalidClient(
    t,
    await postToken(server.app, assertionForm(await makeAssertion(secretKeys, secretClient.clientId))),
    'an assertion for a client_secret client',
  );
  const rows = await eventually(
    () => readDenials(server),
    (found) => found.some((row) => /not an assertion/.test(String((row.details as { reason?: unknown }).reason))),
  );
  t.ok(
    rows.some((row) => row.clientId === 'secret-client' && /not an assertion/.test(String((row.details as { reason?: unknown }).reason))),
    'the audit trail says why',
  );
});

t.test('an unknown client_id with an assertion answers like a known one', async (t) => {
  const { server, signer, client } = await setUp(t);
  const known = await postToken(server.app, assertionForm(await makeAssertion(signer, client.clientId, { claims: { aud: 'x' } })));
  const unknown = await postToken(server.app, assertionForm(await makeAssertion(signer, 'no-such-client')));
  expectInvalidClient(t, known, 'known client, bad assertion');
  expectInvalidClient(t, unknown, 'unknown client');
  t.equal(unknown.body, known.body, 'the same body');
  t.same(Object.keys(unknown.headers).sort(), Object.keys(known.headers).sort(), 'the same headers');
  const rows = await eventually(
    () => readDenials(server),
    (found) => found.length >= 2,
  );
  const unknownRow = rows.find((row) => String((row.details as { reason?: unknown }).reason) === 'unknown client');
  t.ok(unknownRow, 'audited as an unknown client');
  t.equal(unknownRow?.clientId, null, 'named only by a fingerprint');
});

t.test('failed assertions spend the failure budgets, then 429', async (t) => {
  const { server, signer, client } = await setUp(t, {
    config: { protection: { ...testConfig().protection, failuresPerClientAndAddress: 3, throttleDelayMs: 0 } },
  });
  for (let i = 0; i < 3; i++) {
    const bad = await makeAssertion(signer, client.clientId, { claims: { aud: 'https://wrong.example' } });
    expectInvalidClient(t, await postToken(server.app, assertionForm(bad)), `failure ${i + 1}`);
  }
  const throttled = await postToken(server.app, assertionForm(await makeAssertion(signer, client.clientId)));
  t.equal(throttled.statusCode, 429, 'over the budget: 429 even with a good assertion');
  t.ok(throttled.headers['retry-after'], 'with Retry-After');
});

t.test('an assertion is used once across instances sharing the database', async (t) => {
  const { server, signer, client } = await setUp(t);
  const second = await buildApp({ config: server.config, database: server.database, logger: createLogger('silent') });
  await second.ready();
  t.teardown(() => second.close());
  const assertion = await makeAssertion(signer, client.clientId);
  const [a, b] = await Promise.all([postToken(server.app, assertionForm(assertion)), postToken(second, assertionForm(assertion))]);
  t.same([a.statusCode, b.statusCode].sort(), [200, 400], 'exactly one instance accepts it');
});

t.test('disabled, expired and out-of-range clients are refused', async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  const signer = await keyPair('ES256', 'k1');
  const grants = [{ service: 'events', scopes: ['events:read'] }];
  await addClient(server, {
    client_id: 'expiring',
    auth_method: 'private_key_jwt',
    jwks: { keys: [signer.publicJwk] },
    grants,
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
  });
  await addClient(server, {
    client_id: 'ranged',
    auth_method: 'private_key_jwt',
    jwks: { keys: [signer.publicJwk] },
    grants,
    ip_ranges: ['192.0.2.0/24'],
  });
  expectInvalidClient(t, await postToken(server.app, assertionForm(await makeAssertion(signer, 'ranged'))), 'outside the IP ranges');
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(signer, 'expiring')))).statusCode, 200, 'before expiry');
  server.clock.advance(2 * 3600_000);
  // The server's clock is two hours ahead: an assertion dated by it, so only the client's status is at stake.
  const later = Math.floor(server.clock.now() / 1000);
  const assertion = await makeAssertion(signer, 'expiring', { claims: { iat: later, exp: later + 60 } });
  expectInvalidClient(t, await postToken(server.app, assertionForm(assertion)), 'after expiry');
});

t.test('introspection and revocation accept assertions', async (t) => {
  const { server, signer, client } = await setUp(t);
  const issued = await postToken(server.app, assertionForm(await makeAssertion(signer, client.clientId)));
  const token = (issued.json() as { access_token: string }).access_token;
  const call = async (url: string, assertion: string) =>
    server.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion }).toString(),
    });
  const introspected = await call('/oauth/introspect', await makeAssertion(signer, client.clientId));
  t.equal(introspected.statusCode, 200);
  t.equal(introspected.json().active, true, 'introspection: active');
  const refused = await call('/oauth/introspect', await makeAssertion(signer, client.clientId, { claims: { aud: 'x' } }));
  t.equal(refused.statusCode, 400, 'introspection: a bad assertion is 400');
  const revoked = await call('/oauth/revoke', await makeAssertion(signer, client.clientId));
  t.equal(revoked.statusCode, 200, 'revocation');
  const after = await call('/oauth/introspect', await makeAssertion(signer, client.clientId));
  t.same(after.json(), { active: false }, 'the token is revoked');
});

/** A 400 problem+json naming exactly these fields in errors[].path. */
function expectFieldErrors(t: Test, response: Response, paths: string[], label: string): void {
  t.equal(response.statusCode, 400, `${label}: 400`);
  t.match(response.headers['content-type'], /^application\/problem\+json/, `${label}: problem+json`);
  const found = [...new Set(((response.json() as { errors?: Array<{ path: string }> }).errors ?? []).map((error) => error.path))].sort();
  t.same(found, [...paths].sort(), `${label}: errors name ${paths.join(', ')}`);
}

t.test('admin API: jwks or jwks_uri, and switching a client between methods', async (t) => {
  const server = await buildWithAdmin(t);
  await addService(server.database, EVENTS);
  const signer = await keyPair('ES256', 'k1');
  const grants = [{ service: 'events', scopes: ['events:read'] }];
  const base = { name: 'Partner', owner: 'team-a', grants };

  const byUri = await server.admin('POST', '/admin/clients', {
    ...base,
    client_id: 'by-uri',
    auth_method: 'private_key_jwt',
    jwks_uri: 'https://keys.example/jwks.json',
  });
  t.equal(byUri.statusCode, 201, 'created with a jwks_uri');
  t.match(byUri.json(), { auth_method: 'private_key_jwt', jwks: null, jwks_uri: 'https://keys.example/jwks.json' });
  t.notOk('client_secret' in byUri.json(), 'no secret');

  const refusals: Array<[string, Record<string, unknown>, string[]]> = [
    [
      'jwks and jwks_uri',
      { auth_method: 'private_key_jwt', jwks: { keys: [signer.publicJwk] }, jwks_uri: 'https://k.example/' },
      ['/jwks_uri'],
    ],
    ['neither', { auth_method: 'private_key_jwt' }, ['/jwks']],
    ['an http jwks_uri', { auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks.json' }, ['/jwks_uri']],
    ['a jwks_uri with credentials', { auth_method: 'private_key_jwt', jwks_uri: 'https://u:p@keys.example/' }, ['/jwks_uri']],
    ['a jwks_uri with a fragment', { auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/#x' }, ['/jwks_uri']],
    ['a jwks_uri for a client_secret client', { jwks_uri: 'https://keys.example/jwks.json' }, ['/jwks_uri']],
    ['a private key', { auth_method: 'private_key_jwt', jwks: { keys: [signer.privateJwk] } }, ['/jwks/keys/0']],
  ];
  for (const [label, fields, paths] of refusals) {
    expectFieldErrors(t, await server.admin('POST', '/admin/clients', { ...base, ...fields }), paths, `create, ${label}`);
  }

  // client_secret → private_key_jwt: the secret goes.
  const created = await server.admin('POST', '/admin/clients', { ...base, client_id: 'switcher' });
  const firstSecret = (created.json() as { client_secret: string }).client_secret;
  expectFieldErrors(
    t,
    await server.admin('PATCH', '/admin/clients/switcher', { auth_method: 'private_key_jwt' }),
    ['/jwks'],
    'switch without keys',
  );
  expectFieldErrors(
    t,
    await server.admin('PATCH', '/admin/clients/switcher', { jwks: { keys: [signer.publicJwk] } }),
    ['/jwks'],
    'keys on a client_secret client',
  );
  expectFieldErrors(
    t,
    await server.admin('PATCH', '/admin/clients/switcher', { auth_method: 'private_key_jwt', jwks: { keys: [signer.privateJwk] } }),
    ['/jwks/keys/0'],
    'switch with a private key',
  );
  const toJwt = await server.admin('PATCH', '/admin/clients/switcher', {
    auth_method: 'private_key_jwt',
    jwks: { keys: [signer.publicJwk] },
  });
  t.equal(toJwt.statusCode, 200, 'switched to private_key_jwt');
  t.match(toJwt.json(), { auth_method: 'private_key_jwt', jwks: { keys: [{ kid: 'k1' }] }, jwks_uri: null });
  t.notOk('client_secret' in toJwt.json(), 'no secret in the answer');
  const basicOld = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('switcher', firstSecret) });
  t.equal(basicOld.statusCode, 401, 'the old secret no longer works');
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(signer, 'switcher')))).statusCode, 200, 'an assertion does');
  const { clientCredentials } = await import('../../src/db/schema.js');
  const uuid = (toJwt.json() as { service_account: { id: string } }).service_account.id;
  t.same(
    (await server.database.db.select().from(clientCredentials).where(eq(clientCredentials.clientUuid, uuid))).map((row) => row.kind),
    ['public_key'],
    'no secret is stored: its one credential is its key',
  );

  // One key source replaces the other.
  const toUri = await server.admin('PATCH', '/admin/clients/switcher', { jwks_uri: 'https://keys.example/switcher.json' });
  t.match(
    toUri.json(),
    { auth_method: 'private_key_jwt', jwks: null, jwks_uri: 'https://keys.example/switcher.json' },
    'jwks_uri replaces jwks',
  );
  const backToJwks = await server.admin('PATCH', '/admin/clients/switcher', { jwks: { keys: [signer.publicJwk] } });
  t.match(backToJwks.json(), { jwks: { keys: [{ kid: 'k1' }] }, jwks_uri: null }, 'and jwks replaces jwks_uri');
  expectFieldErrors(t, await server.admin('PATCH', '/admin/clients/switcher', { jwks: null }), ['/jwks'], 'removing the only keys');

  // private_key_jwt → client_secret: a new secret, shown once.
  expectFieldErrors(
    t,
    await server.admin('PATCH', '/admin/clients/switcher', { auth_method: 'client_secret', jwks: { keys: [signer.publicJwk] } }),
    ['/jwks'],
    'switch to client_secret with keys',
  );
  const toSecret = await server.admin('PATCH', '/admin/clients/switcher', { auth_method: 'client_secret' });
  t.equal(toSecret.statusCode, 200, 'switched to client_secret');
  const body = toSecret.json() as { client_secret?: string; jwks: unknown; jwks_uri: unknown; auth_method: string };
  t.match(body, { auth_method: 'client_secret', jwks: null, jwks_uri: null });
  t.match(body.client_secret, /^portier_cred_/, 'a new secret in the answer');
  const read = (await server.admin('GET', '/admin/clients/switcher')).json() as Record<string, unknown>;
  t.notOk('client_secret' in read, 'and never again');
  const basicNew = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('switcher', body.client_secret ?? '') },
  );
  t.equal(basicNew.statusCode, 200, 'the new secret works');
  expectInvalidClient(
    t,
    await postToken(server.app, assertionForm(await makeAssertion(signer, 'switcher'))),
    'an assertion no longer does',
  );
  const again = await server.admin('PATCH', '/admin/clients/switcher', { auth_method: 'client_secret', name: 'Renamed' });
  t.notOk('client_secret' in again.json(), 'no new secret when the method does not change');

  const events = await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'client.updated'));
  const switches = events.filter(
    (event) => event.clientId === 'switcher' && 'auth_method' in ((event.details as { changes: object }).changes ?? {}),
  );
  t.equal(switches.length, 2, 'the audit trail records both switches');
  t.match(
    switches.map((event) => event.details),
    [
      { changes: { auth_method: { from: 'client_secret', to: 'private_key_jwt' } }, secrets: 'secrets removed' },
      { changes: { auth_method: { from: 'private_key_jwt', to: 'client_secret' } }, secrets: 'new secret issued' },
    ],
  );
  t.notOk(JSON.stringify(events).includes(body.client_secret ?? 'x'), 'never the secret');
});

t.test('CLI: create with --jwks, switch with --auth-method', async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  const signer = await keyPair('ES256', 'k1');
  let stdout = '';
  let stderr = '';
  const portier = async (...args: string[]) => {
    const result = await runCli(server.database, args);
    ({ stdout, stderr } = result);
    return result.code;
  };
  const jwks = JSON.stringify({ keys: [signer.publicJwk] });
  t.equal(
    await portier(
      'clients',
      'create',
      '--client-id',
      'cli-jwt',
      '--name',
      'N',
      '--owner',
      'o',
      '--grant',
      'events:events:read',
      '--auth-method',
      'private_key_jwt',
      '--jwks',
      jwks,
    ),
    0,
    stderr,
  );
  t.match(JSON.parse(stdout), { client_id: 'cli-jwt', auth_method: 'private_key_jwt', jwks: { keys: [{ kid: 'k1' }] } });
  t.notOk(stdout.includes('portier_cred_'), 'no secret printed');
  server.app.portier.generation.changed();
  t.equal((await postToken(server.app, assertionForm(await makeAssertion(signer, 'cli-jwt')))).statusCode, 200, 'the client authenticates');

  t.equal(await portier('clients', 'update', 'cli-jwt', '--jwks-uri', 'http://insecure.example/'), 1, 'an http jwks_uri is refused');
  t.match(stderr, /\/jwks_uri/);
  t.equal(await portier('clients', 'update', 'cli-jwt', '--auth-method', 'client_secret'), 0, stderr);
  const secret = stdout.trim().split('\n').pop() ?? '';
  t.match(secret, /^portier_cred_/, 'the new secret is printed last on stdout');
  server.app.portier.generation.changed();
  const res = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('cli-jwt', secret) });
  t.equal(res.statusCode, 200, 'and works');
});
