import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { SIGNING_ALGS, type SigningAlg } from '../../src/config.js';
import { addClient, addService, basicAuth, build, ISSUER, type TestServer } from '../helpers.js';

/**
 * What a resource server does: fetch the JWKS over HTTP from a listening Portier and verify
 * the access token with jose, for every SIGNING_ALG. Then the RFC 9068 claims one by one,
 * the JWKS's shape, and the discovery documents.
 */

const TTL = 900;
const EVENTS = { id: 'events', audience: 'https://events.example/api', scopes: ['events:read', 'events:write'] };
const BILLING = { id: 'billing', audience: 'urn:example:billing', scopes: ['billing:read'] };

/** JWK members that only private (or symmetric) keys have. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function listen(server: TestServer): Promise<string> {
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a TCP port');
  return `http://127.0.0.1:${address.port}`;
}

async function getToken(origin: string, clientId: string, clientSecret: string, form: Record<string, string | string[]> = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  for (const [name, value] of Object.entries(form)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
  }
  const res = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, clientSecret) },
    body: body.toString(),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { access_token: string; token_type: string; expires_in: number; scope: string };
}

/** The exact claim names docs/tokens.md lists for an access token; nothing else may appear. */
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'client_id', 'scope', 'iat', 'exp', 'jti', 'preferred_username'];
const OPTIONAL_CLAIMS = ['name', 'roles'];

function checkCommonClaims(t: Test, payload: JWTPayload, client: { clientId: string; uuid: string }) {
  for (const claim of REQUIRED_CLAIMS) t.ok(claim in payload, `claim ${claim} is present`);
  const unexpected = Object.keys(payload).filter((claim) => !REQUIRED_CLAIMS.includes(claim) && !OPTIONAL_CLAIMS.includes(claim));
  t.same(unexpected, [], 'no claims beyond those docs/tokens.md lists');
  t.equal(payload.iss, ISSUER);
  t.equal(payload.sub, client.uuid, 'sub is the service account id');
  t.match(payload.sub, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'sub is a UUID');
  t.not(payload.sub, client.clientId, 'sub is not the client_id');
  t.equal(payload.client_id, client.clientId);
  t.equal(payload.preferred_username, `service-account-${client.clientId}`);
  t.type(payload.iat, 'number');
  t.ok(Number.isInteger(payload.iat), 'iat is whole seconds');
  t.equal(payload.exp, (payload.iat ?? 0) + TTL, 'exp = iat + ACCESS_TOKEN_TTL');
  t.type(payload.jti, 'string');
  t.ok((payload.jti ?? '').length >= 16, 'jti is long enough to be unique');
}

for (const alg of SIGNING_ALGS) {
  t.test(`SIGNING_ALG=${alg}`, async (t) => {
    const server = await build(t, { config: { signingAlg: alg as SigningAlg, accessTokenTtl: TTL } });
    await addService(server.database, EVENTS);
    await addService(server.database, BILLING);
    const full = await addClient(server, {
      first_name: 'Eaglebe',
      last_name: 'Events',
      roles: ['events-reader', 'auditor'],
      grants: [
        { service: 'events', scopes: ['events:read', 'events:write'] },
        { service: 'billing', scopes: ['billing:read'] },
      ],
    });
    const bare = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
    const firstOnly = await addClient(server, { first_name: 'Solo', grants: [{ service: 'events', scopes: ['events:read'] }] });
    const origin = await listen(server);

    // A resource server knows Portier's issuer and its own audience, and fetches the keys.
    const jwks = createRemoteJWKSet(new URL(`${origin}/.well-known/jwks.json`));
    const verify = (token: string, audience: string | string[]) =>
      jwtVerify(token, jwks, { issuer: ISSUER, audience, typ: 'at+jwt', algorithms: [alg] });

    t.test('full client: one audience', async (t) => {
      const response = await getToken(origin, full.clientId, full.clientSecret, { resource: EVENTS.audience, scope: 'events:read' });
      t.equal(response.token_type, 'Bearer');
      t.equal(response.expires_in, TTL);
      const { payload, protectedHeader } = await verify(response.access_token, EVENTS.audience);
      t.equal(protectedHeader.alg, alg);
      t.equal(protectedHeader.typ, 'at+jwt');
      t.type(protectedHeader.kid, 'string');
      checkCommonClaims(t, payload, full);
      t.equal(payload.aud, EVENTS.audience, 'aud is the service audience, a string for one service');
      t.equal(payload.scope, 'events:read');
      t.equal(payload.scope, response.scope, 'scope claim = scope in the response');
      t.equal(payload.name, 'Eaglebe Events', 'name is first + last name');
      t.same(payload.roles, ['events-reader', 'auditor']);
    });

    t.test('full client: two audiences', async (t) => {
      const response = await getToken(origin, full.clientId, full.clientSecret, { resource: [EVENTS.audience, BILLING.audience] });
      const { payload } = await verify(response.access_token, BILLING.audience);
      checkCommonClaims(t, payload, full);
      t.ok(Array.isArray(payload.aud), 'aud is an array for several services');
      t.same([...(payload.aud as string[])].sort(), [EVENTS.audience, BILLING.audience].sort());
      t.same(String(payload.scope).split(' ').sort(), ['billing:read', 'events:read', 'events:write'], 'all granted scopes');
      // Verifies for each of its audiences, and not for another.
      await verify(response.access_token, EVENTS.audience);
      await t.rejects(verify(response.access_token, 'https://other.example'), errors.JWTClaimValidationFailed);
    });

    t.test('client without names or roles', async (t) => {
      const response = await getToken(origin, bare.clientId, bare.clientSecret);
      const { payload } = await verify(response.access_token, EVENTS.audience);
      checkCommonClaims(t, payload, bare);
      t.equal(payload.aud, EVENTS.audience);
      t.equal(payload.scope, 'events:read');
      t.notOk('name' in payload, 'no name claim without first/last name');
      t.notOk('roles' in payload, 'no roles claim without roles');
    });

    t.test('client with only a first name', async (t) => {
      const response = await getToken(origin, firstOnly.clientId, firstOnly.clientSecret);
      const { payload } = await verify(response.access_token, EVENTS.audience);
      t.equal(payload.name, 'Solo');
      t.notOk('roles' in payload);
    });

    t.test('jti is unique per token, sub per client', async (t) => {
      const tokens = await Promise.all(
        [full, full, full, bare, bare].map((client) =>
          getToken(origin, client.clientId, client.clientSecret, client === full ? { resource: EVENTS.audience } : {}),
        ),
      );
      const payloads = await Promise.all(tokens.map((token) => verify(token.access_token, EVENTS.audience).then((v) => v.payload)));
      t.equal(new Set(payloads.map((payload) => payload.jti)).size, payloads.length, 'every token has its own jti');
      t.equal(new Set(tokens.map((token) => token.access_token)).size, tokens.length);
      t.not(full.uuid, bare.uuid, 'different clients are different subjects');
    });

    t.test('a tampered or foreign token does not verify', async (t) => {
      const response = await getToken(origin, bare.clientId, bare.clientSecret);
      const [header, payload, signature] = response.access_token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'events:write' })).toString('base64url');
      await t.rejects(verify(`${header}.${forged}.${signature}`, EVENTS.audience), errors.JWSSignatureVerificationFailed);
      await t.rejects(
        jwtVerify(response.access_token, jwks, { issuer: 'http://someone-else.test', audience: EVENTS.audience }),
        errors.JWTClaimValidationFailed,
      );
    });

    t.test('the JWKS', async (t) => {
      const res = await fetch(`${origin}/.well-known/jwks.json`);
      t.equal(res.status, 200);
      t.match(res.headers.get('content-type'), /^application\/(jwk-set\+)?json/);
      const cacheControl = res.headers.get('cache-control') ?? '';
      const maxAge = /(?:^|[,\s])max-age=(\d+)/.exec(cacheControl);
      t.ok(maxAge, `Cache-Control has max-age (${cacheControl})`);
      t.ok(Number(maxAge?.[1]) > 0, 'max-age is positive');
      t.notMatch(cacheControl, /no-store|private/, 'the JWKS may be cached by anyone');
      const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
      t.same(Object.keys(body), ['keys']);
      t.equal(body.keys.length, 1, 'one key: the active one');
      const key = body.keys[0] ?? {};
      for (const member of PRIVATE_MEMBERS) t.notOk(member in key, `no private member "${member}"`);
      t.equal(key.alg, alg);
      t.equal(key.use, 'sig');
      t.type(key.kid, 'string');
      const expectedKty = { ES256: 'EC', EdDSA: 'OKP', Ed25519: 'OKP', RS256: 'RSA', PS256: 'RSA' }[alg];
      t.equal(key.kty, expectedKty);
      if (alg === 'ES256') t.equal(key.crv, 'P-256');
      if (alg === 'EdDSA' || alg === 'Ed25519') t.equal(key.crv, 'Ed25519');
      const token = await getToken(origin, bare.clientId, bare.clientSecret);
      t.equal(decodeProtectedHeader(token.access_token).kid, key.kid, 'tokens name the published key');
    });
  });
}

t.test('discovery documents', async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  await addService(server.database, BILLING);
  const origin = await listen(server);

  const documents: Array<Record<string, unknown>> = [];
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    t.test(path, async (t) => {
      const res = await fetch(`${origin}${path}`);
      t.equal(res.status, 200);
      t.match(res.headers.get('content-type'), /^application\/json/);
      t.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
      const doc = (await res.json()) as Record<string, unknown>;
      documents.push(doc);

      t.equal(doc.issuer, ISSUER, 'issuer is ISSUER exactly');
      t.equal(doc.token_endpoint, `${ISSUER}/oauth/token`);
      t.equal(doc.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
      t.equal(doc.introspection_endpoint, `${ISSUER}/oauth/introspect`);
      t.equal(doc.revocation_endpoint, `${ISSUER}/oauth/revoke`);
      for (const [field, value] of Object.entries(doc)) {
        if (field.endsWith('_endpoint') || field.endsWith('_uri')) {
          t.ok(String(value).startsWith(`${ISSUER}/`), `${field} is under the issuer`);
          // And the path really is served here (only the origin differs from ISSUER).
          const local = new URL(new URL(String(value)).pathname, origin);
          const probe = await fetch(local, field === 'jwks_uri' ? {} : { method: 'POST' });
          t.not(probe.status, 404, `${field} exists (${local.pathname})`);
        }
      }

      t.same(doc.grant_types_supported, [
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:token-exchange',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
      ]);
      const methods = doc.token_endpoint_auth_methods_supported as string[];
      t.ok(Array.isArray(methods));
      t.ok(methods.includes('client_secret_basic'), 'client_secret_basic');
      t.ok(methods.includes('client_secret_post'), 'client_secret_post');
      t.notOk(methods.includes('none'), 'no public clients');
      // RFC 8414 §2: the signing algorithms must be listed when a JWT-based method is, and never "none".
      const algs = doc.token_endpoint_auth_signing_alg_values_supported;
      if (methods.includes('private_key_jwt') || methods.includes('client_secret_jwt') || algs !== undefined) {
        t.ok(Array.isArray(algs) && algs.length > 0, 'token_endpoint_auth_signing_alg_values_supported is listed');
        t.notOk((algs as string[]).includes('none'), '"none" is never listed');
      }
      const scopes = doc.scopes_supported as string[];
      t.ok(Array.isArray(scopes));
      for (const scope of [...EVENTS.scopes, ...BILLING.scopes]) {
        t.ok(scopes.includes(scope), `scopes_supported has ${scope}`);
      }
    });
  }
  t.test('both documents are the same but for response_types_supported', async (t) => {
    t.equal(documents.length, 2);
    const [authorizationServer, openid] = documents;
    // RFC 8414: omitted, as nothing true can be listed without an authorization endpoint.
    t.notOk(authorizationServer !== undefined && 'response_types_supported' in authorizationServer, 'RFC 8414: omitted');
    // OpenID Connect Discovery §3 requires the member: present, with the true value.
    t.same(openid?.response_types_supported, [], 'openid-configuration: present and empty');
    const { response_types_supported: _responseTypes, ...rest } = openid ?? {};
    t.same(authorizationServer, rest, 'everything else the same');
  });
});
