import { eq } from 'drizzle-orm';
import { decodeJwt, type JWTPayload, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { getClient } from '../../src/clients/clients.js';
import type { Config } from '../../src/config.js';
import { auditEvents } from '../../src/db/schema.js';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { JWKS_CACHE_MS, JWKS_REFETCH_INTERVAL_MS, JWKS_STALE_MS } from '../../src/oauth/client-auth/remote-jwks.js';
import { FEDERATED_ALGORITHMS } from '../../src/schemas/enums.js';
import { expectOAuthError } from '../expect.js';
import { addService, buildWithAdmin, eventually, ISSUER, openBudgets, postToken } from '../helpers.js';
import {
  githubActionsToken,
  kubernetesToken,
  type Platform,
  type PlatformAlg,
  platformFetchConfig,
  platformKey,
  platformServer,
  spiffeSvid,
} from '../platforms.js';

// Federated client authentication at the token endpoint: a workload's platform JWT (a
// Kubernetes projected token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID) as its
// client assertion, checked against a trusted issuer's keys, which the test's platforms
// publish over HTTPS on 127.0.0.1. Every refusal is the same 400 invalid_client; the
// reason is in the audit trail only.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const GRANTS = [{ service: 'events', scopes: ['events:read'] }];

async function setUp(t: Test, config: Partial<Config> = {}) {
  const server = await buildWithAdmin(t, { config: { ...platformFetchConfig(), protection: openBudgets(), ...config } });
  await addService(server.database, EVENTS);
  const platforms = await platformServer(t);
  /** Trusts a platform through the admin API (its keys found by discovery, unless `extra` says otherwise). */
  const trust = async (id: string, platform: Platform | string, extra: Record<string, unknown> = {}) => {
    const issuer = typeof platform === 'string' ? platform : platform.issuer;
    const response = await server.admin('POST', '/admin/trusted-issuers', { id, issuer, ...extra });
    t.equal(response.statusCode, 201, `trusted issuer ${id} created`);
  };
  /** Creates a federated client through the admin API. */
  const federatedClient = async (clientId: string, identities: unknown[], extra: Record<string, unknown> = {}) => {
    const response = await server.admin('POST', '/admin/clients', {
      client_id: clientId,
      name: clientId,
      owner: 'platform-team',
      grants: GRANTS,
      auth_method: 'federated',
      federated_identities: identities,
      ...extra,
    });
    t.equal(response.statusCode, 201, `client ${clientId} created`);
    return response.json() as Record<string, unknown>;
  };
  const now = () => server.clock.now();
  return { server, platforms, trust, federatedClient, now };
}

/** The token request a workload makes with its platform's JWT. */
function signIn(
  app: Parameters<typeof postToken>[0],
  assertion: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return postToken(
    app,
    { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion, ...extra },
    headers,
  );
}

function expectInvalidClient(t: Test, response: Awaited<ReturnType<typeof postToken>>, label: string): void {
  // The assertion is in the body: 400 (a 401 is for a client that tried HTTP Basic).
  expectOAuthError(t, response, 400, 'invalid_client', label);
  t.equal(response.json().error_description, 'client authentication failed', `${label}: the usual description`);
  // An assertion is sent in the body, not in an Authorization header: no challenge (RFC 6749 §5.2).
  t.equal(response.headers['www-authenticate'], undefined, `${label}: no challenge without an Authorization header`);
}

/** The reasons the audit trail gives for refused token requests. */
async function deniedReasons(server: { database: { db: import('../../src/db/connect.js').Db } }): Promise<string[]> {
  const rows = await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
  return rows.map((row) => String((row.details as { reason?: unknown }).reason));
}

async function expectDenied(t: Test, server: Parameters<typeof deniedReasons>[0], pattern: RegExp, label: string): Promise<void> {
  const reasons = await eventually(
    () => deniedReasons(server),
    (found) => found.some((reason) => pattern.test(reason)),
  );
  t.ok(
    reasons.some((reason) => pattern.test(reason)),
    `${label}: audited as ${pattern} (got ${reasons
      .filter((r) => r.includes('platform') || r.includes('client'))
      .slice(-3)
      .join(' | ')})`,
  );
}

t.test('a Kubernetes pod, a GitHub Actions job and a SPIFFE workload each get a token with their platform JWT', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('prod-cluster', 'RS256');
  const github = await platforms.platform('github', 'RS256');
  const spire = await platforms.platform('spire', 'ES256');
  await trust('prod-cluster', cluster);
  await trust('github', github, { audience: 'https://portier.example/github' });
  await trust('spire', spire);

  const reporter = await federatedClient('payments-reporter', [
    { issuer: 'prod-cluster', subject: 'system:serviceaccount:payments:reporter' },
  ]);
  t.notOk('client_secret' in reporter, 'creating a federated client shows no secret');
  t.same(reporter.federated_identities, [{ issuer: 'prod-cluster', subject: 'system:serviceaccount:payments:reporter', claims: {} }]);
  await federatedClient('billing-release', [
    {
      issuer: 'github',
      subject: 'repo:acme/billing:ref:refs/heads/main',
      claims: { repository_owner: 'acme', runner_environment: 'github-hosted' },
    },
  ]);
  await federatedClient('mesh-reporter', [{ issuer: 'spire', subject: 'spiffe://example.org/ns/payments/sa/reporter' }]);

  const k8s = await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'payments', serviceAccount: 'reporter' });
  const fromPod = await signIn(server.app, k8s);
  t.equal(fromPod.statusCode, 200, 'Kubernetes projected token: 200');
  const claims = decodeJwt(fromPod.json().access_token);
  t.equal(claims.client_id, 'payments-reporter', 'the token is the client’s, found by issuer and subject');
  t.equal(claims.sub, (reporter.service_account as { id: string }).id, 'sub: the service account, as for any client');
  t.equal(claims.preferred_username, 'service-account-payments-reporter');
  t.equal(claims.aud, EVENTS.audience);
  t.same(claims.federated_identity, { issuer: 'prod-cluster', subject: 'system:serviceaccount:payments:reporter' });

  const gha = await githubActionsToken(github, { now: now(), audience: 'https://portier.example/github', owner: 'acme', repo: 'billing' });
  const fromJob = await signIn(server.app, gha, { client_id: 'billing-release' });
  t.equal(fromJob.statusCode, 200, 'GitHub Actions token with client_id: 200');
  t.equal(decodeJwt(fromJob.json().access_token).client_id, 'billing-release');

  const svid = await spiffeSvid(spire, { now: now(), audience: ISSUER, spiffeId: 'spiffe://example.org/ns/payments/sa/reporter' });
  const fromMesh = await signIn(server.app, svid);
  t.equal(fromMesh.statusCode, 200, 'SPIFFE JWT-SVID (ES256): 200');
  t.equal(decodeJwt(fromMesh.json().access_token).client_id, 'mesh-reporter');

  // A platform token may be presented again within its lifetime (Kubernetes reuses one for up to an hour).
  t.equal((await signIn(server.app, k8s)).statusCode, 200, 'the same projected token again: 200 (no one-time jti)');
  t.equal(cluster.hits.discovery, 1, 'discovery document read once');
  t.equal(cluster.hits.jwks, 1, 'key set fetched once');
  server.clock.advance(30 * 60_000);
  t.equal((await signIn(server.app, k8s)).statusCode, 200, 'and half an hour later');

  // Introspection names the workload, and so does the client's last-used record.
  const introspected = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      token: fromPod.json().access_token,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'payments', serviceAccount: 'reporter' }),
    }).toString(),
  });
  t.equal(introspected.statusCode, 200, 'a federated client may introspect');
  t.same(introspected.json().federated_identity, { issuer: 'prod-cluster', subject: 'system:serviceaccount:payments:reporter' });
  t.equal(introspected.json().client_id, 'payments-reporter');

  await server.app.portier.lastUsed.flush();
  const resource = await getClient(server.database.db, 'billing-release', Date.now());
  t.type(resource?.last_used_at, 'string', 'last_used_at recorded');
  t.same(resource?.last_used_identity, { issuer: 'github', subject: 'repo:acme/billing:ref:refs/heads/main' }, 'and which identity');
  const admin = await getClient(server.database.db, 'root-admin', Date.now());
  t.equal(admin?.last_used_identity, null, 'a secret client’s use records no identity');
});

t.test(
  'every algorithm discovery advertises for assertions: a SPIRE server with P-384 keys (ES384), Ed25519 under either name',
  async (t) => {
    const { server, platforms, trust, federatedClient, now } = await setUp(t);
    const metadata = (await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json() as Record<
      string,
      string[]
    >;
    const advertised = metadata.token_endpoint_auth_signing_alg_values_supported ?? [];
    t.same([...advertised].sort(), [...FEDERATED_ALGORITHMS].sort(), 'discovery advertises exactly what a trusted issuer may allow');
    t.same(metadata.portier_federated_client_assertion_types_supported, [CLIENT_ASSERTION_TYPE], 'and names the federated method');
    t.ok(metadata.token_endpoint_auth_methods_supported?.includes('private_key_jwt'), 'whose form on the wire is private_key_jwt’s');

    for (const alg of advertised as PlatformAlg[]) {
      const name = `spire-${alg.toLowerCase()}`;
      const platform = await platforms.platform(name, alg);
      await trust(name, platform, { algorithms: [alg] });
      const spiffeId = `spiffe://example.org/ns/payments/sa/${name}`;
      await federatedClient(name, [{ issuer: name, subject: spiffeId }]);
      const svid = await spiffeSvid(platform, { now: now(), audience: ISSUER, spiffeId });
      const answer = await signIn(server.app, svid);
      t.equal(answer.statusCode, 200, `${alg}: a platform token signed with it gets a token`);
      t.equal(decodeJwt(answer.json().access_token).client_id, name);
    }

    // A P-384 issuer trusted with the defaults allows ES384 too; one that lists only ES256 does not.
    const p384 = await platforms.platform('spire-default', 'ES384');
    await trust('spire-default', p384);
    t.match((await server.admin('GET', '/admin/trusted-issuers/spire-default')).json(), { algorithms: [...FEDERATED_ALGORITHMS] });
    await federatedClient('mesh-default', [{ issuer: 'spire-default', subject: 'spiffe://example.org/default' }]);
    const svid = await spiffeSvid(p384, { now: now(), audience: ISSUER, spiffeId: 'spiffe://example.org/default' });
    t.equal((await signIn(server.app, svid)).statusCode, 200, 'ES384 by default');
    t.equal((await server.admin('PATCH', '/admin/trusted-issuers/spire-default', { algorithms: ['ES256'] })).statusCode, 200);
    expectInvalidClient(t, await signIn(server.app, svid), 'ES384 once the issuer allows only ES256');
    // An ES384 header over a P-256 key: the key does not fit the algorithm.
    const p256 = await platforms.platform('spire-mismatch', 'ES256');
    await trust('spire-mismatch', p256);
    await federatedClient('mesh-mismatch', [{ issuer: 'spire-mismatch', subject: 'spiffe://example.org/mismatch' }]);
    const mismatch = await spiffeSvid(
      { ...p256, key: { ...p256.key, alg: 'ES384' } },
      { now: now(), audience: ISSUER, spiffeId: 'spiffe://example.org/mismatch' },
    ).catch((error: unknown) => error);
    t.ok(mismatch instanceof Error, 'jose will not even sign ES384 with a P-256 key');
    const forged = await spiffeSvid(p256, { now: now(), audience: ISSUER, spiffeId: 'spiffe://example.org/mismatch' });
    const [, body, signature] = forged.split('.');
    const es384Header = Buffer.from(JSON.stringify({ alg: 'ES384', kid: p256.key.kid, typ: 'JWT' })).toString('base64url');
    expectInvalidClient(t, await signIn(server.app, `${es384Header}.${body}.${signature}`), 'an ES384 header over a P-256 key');
  },
);

t.test('claims: equal, contained in an array, or reached by a JSON Pointer', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const github = await platforms.platform('github');
  const cluster = await platforms.platform('cluster');
  await trust('github', github);
  await trust('cluster', cluster);
  await federatedClient('hosted-only', [
    { issuer: 'github', subject: 'repo:acme/billing:ref:refs/heads/main', claims: { runner_environment: 'github-hosted' } },
  ]);
  const saUid = '6f1c1a53-1d7b-4c57-9e6e-3f0f1f3e0a11';
  await federatedClient('pinned-sa', [
    {
      issuer: 'cluster',
      subject: 'system:serviceaccount:payments:reporter',
      claims: { '/kubernetes.io/serviceaccount/uid': saUid, aud: ISSUER },
    },
  ]);

  const hosted = await githubActionsToken(github, { now: now(), audience: ISSUER, owner: 'acme', repo: 'billing' });
  t.equal((await signIn(server.app, hosted)).statusCode, 200, 'runner_environment equal');
  const selfHosted = await githubActionsToken(github, {
    now: now(),
    audience: ISSUER,
    owner: 'acme',
    repo: 'billing',
    runnerEnvironment: 'self-hosted',
  });
  expectInvalidClient(t, await signIn(server.app, selfHosted), 'a claim that differs');
  await expectDenied(t, server, /no client has an identity matching the token/, 'a claim that differs');

  const pinned = await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'payments', serviceAccount: 'reporter', saUid });
  t.equal((await signIn(server.app, pinned)).statusCode, 200, 'a JSON Pointer into kubernetes.io, and aud (an array) containing the value');
  const recreated = await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'payments', serviceAccount: 'reporter' });
  expectInvalidClient(
    t,
    await signIn(server.app, recreated, { client_id: 'pinned-sa' }),
    'a service account re-created under the same name',
  );
  await expectDenied(t, server, /no federated identity of the client matches the token/, 'the uid pinned');
});

t.test('client_id: optional; given, it must name a federated client whose identity matches', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster');
  await trust('cluster', cluster);
  const subject = 'system:serviceaccount:jobs:runner';
  await federatedClient('runner-a', [{ issuer: 'cluster', subject }]);
  await federatedClient('runner-b', [{ issuer: 'cluster', subject }]);
  await federatedClient('other', [{ issuer: 'cluster', subject: 'system:serviceaccount:jobs:other' }]);
  const token = await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'jobs', serviceAccount: 'runner' });

  expectInvalidClient(t, await signIn(server.app, token), 'two clients with the identity and no client_id');
  await expectDenied(t, server, /several clients have an identity matching the token \(runner-a, runner-b\); send client_id/, 'ambiguous');
  const withId = await signIn(server.app, token, { client_id: 'runner-b' });
  t.equal(withId.statusCode, 200, 'client_id chooses among them');
  t.equal(decodeJwt(withId.json().access_token).client_id, 'runner-b');

  expectInvalidClient(t, await signIn(server.app, token, { client_id: 'other' }), 'the client_id of a client with another identity');
  await expectDenied(t, server, /no federated identity of the client matches/, 'another identity');
  expectInvalidClient(t, await signIn(server.app, token, { client_id: 'root-admin' }), 'the client_id of a secret client');
  await expectDenied(t, server, /client authenticates with client_secret, not a platform token/, 'a secret client');
  expectInvalidClient(t, await signIn(server.app, token, { client_id: 'nobody-here' }), 'an unknown client_id');
  await expectDenied(t, server, /unknown client/, 'unknown');
  expectInvalidClient(t, await signIn(server.app, token, { client_id: 'Not A Client' }), 'a malformed client_id');
  await expectDenied(t, server, /not a well-formed client_id/, 'malformed');
  const stranger = await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'jobs', serviceAccount: 'stranger' });
  expectInvalidClient(t, await signIn(server.app, stranger), 'a subject no client has');
  await expectDenied(t, server, /for subject "system:serviceaccount:jobs:stranger": no client has an identity/, 'no client');

  // A secret and a platform token together: one method per request.
  const both = await signIn(server.app, token, { client_secret: 'x', client_id: 'runner-a' });
  expectOAuthError(t, both, 400, 'invalid_request', 'a secret and an assertion');
});

t.test('every check of the platform token: each refusal a 400 invalid_client, the reason audited', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster', 'ES256');
  const untrusted = await platforms.platform('untrusted', 'ES256');
  await trust('cluster', cluster, { algorithms: ['ES256'], max_token_age: 600 });
  await federatedClient('worker', [{ issuer: 'cluster', subject: 'system:serviceaccount:apps:worker' }]);
  const base = (): JWTPayload => {
    const iat = Math.floor(now() / 1000);
    return { sub: 'system:serviceaccount:apps:worker', aud: [ISSUER], iat, nbf: iat, exp: iat + 300 };
  };
  const withoutClaim = (name: string): JWTPayload => {
    const claims = base();
    delete claims[name];
    return claims;
  };
  t.equal((await signIn(server.app, await cluster.sign(base()))).statusCode, 200, 'the token as it should be');

  const hs256 = await new SignJWT(base())
    .setIssuer(cluster.issuer)
    .setProtectedHeader({ alg: 'HS256', kid: cluster.key.kid })
    .sign(new TextEncoder().encode('a-shared-secret-no-platform-has-with-us'));
  const unsecured = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(
    JSON.stringify({ ...base(), iss: cluster.issuer }),
  ).toString('base64url')}.`;
  const otherKey = await platformKey('ES256', cluster.key.kid);
  const rsaKey = await platformKey('RS256');
  const skew = 30;
  const cases: Array<[string, string, RegExp]> = [
    ['iss not a trusted issuer', await untrusted.sign(base()), /which is not a trusted issuer/],
    ['iss a look-alike of a trusted one', await cluster.sign({ ...base(), iss: `${cluster.issuer}/` }), /which is not a trusted issuer/],
    ['alg HS256', hs256, /alg "HS256" is not allowed/],
    ['alg none', unsecured, /alg "none" is not allowed/],
    ['an alg the issuer does not allow (RS256)', await cluster.sign(base(), { key: rsaKey }), /alg RS256 is not one the issuer allows/],
    [
      'a kid the issuer does not publish',
      await cluster.sign(base(), { key: await platformKey('ES256') }),
      /no key of the issuer matches kid/,
    ],
    ['a signature by another key under the right kid', await cluster.sign(base(), { key: otherKey }), /signature does not verify/],
    [
      'aud not containing the audience',
      await cluster.sign({ ...base(), aud: ['https://elsewhere.example'] }),
      /claim check failed: unexpected "aud"/,
    ],
    ['no aud', await cluster.sign(withoutClaim('aud')), /claim check failed.*"aud"/],
    ['no exp', await cluster.sign(withoutClaim('exp')), /"exp" claim/],
    ['exp past by more than the leeway', await cluster.sign({ ...base(), exp: Math.floor(now() / 1000) - skew - 5 }), /has expired/],
    ['nbf ahead by more than the leeway', await cluster.sign({ ...base(), nbf: Math.floor(now() / 1000) + skew + 10 }), /"nbf" claim/],
    [
      'iat older than max_token_age',
      await cluster.sign({ ...base(), iat: Math.floor(now() / 1000) - 600 - skew - 5 }),
      /issued more than max_token_age \(600 s\) ago/,
    ],
    [
      'iat in the future',
      await cluster.sign({ ...base(), iat: Math.floor(now() / 1000) + skew + 10, nbf: undefined }),
      /iat is in the future/,
    ],
    [
      'no iat and exp beyond max_token_age',
      await cluster.sign({ ...withoutClaim('iat'), exp: Math.floor(now() / 1000) + 3600 }),
      /no iat and expires more than max_token_age/,
    ],
    ['no sub', await cluster.sign(withoutClaim('sub')), /"sub" claim/],
    [
      'a sub with a control character',
      await cluster.sign({ ...base(), sub: 'system:serviceaccount:apps:\u0000worker' }),
      /its sub cannot be the subject/,
    ],
    [
      'a subject no identity has',
      await cluster.sign({ ...base(), sub: 'system:serviceaccount:apps:intruder' }),
      /no client has an identity matching/,
    ],
  ];
  for (const [label, assertion, reason] of cases) {
    expectInvalidClient(t, await signIn(server.app, assertion), label);
    await expectDenied(t, server, reason, label);
  }

  // Within the leeway: accepted.
  const at = Math.floor(now() / 1000);
  t.equal((await signIn(server.app, await cluster.sign({ ...base(), exp: at - skew + 5 }))).statusCode, 200, 'exp just past, within 30 s');
  t.equal((await signIn(server.app, await cluster.sign({ ...base(), nbf: at + skew - 5 }))).statusCode, 200, 'nbf just ahead, within 30 s');
  t.equal(
    (await signIn(server.app, await cluster.sign({ ...withoutClaim('iat'), exp: at + 500 }))).statusCode,
    200,
    'no iat, expiring within max_token_age',
  );

  // The assertion is never echoed, logged or audited.
  const details = await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
  t.notOk(
    JSON.stringify(details).includes((cases[0]?.[1] ?? 'x').split('.')[2] ?? 'x'),
    'no signature of a presented token in the audit trail',
  );
});

t.test('malformed or oversized platform tokens: 400 (invalid_client or invalid_request), never 5xx', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster');
  await trust('cluster', cluster);
  await federatedClient('worker', [{ issuer: 'cluster', subject: 'system:serviceaccount:apps:worker' }]);
  const iat = Math.floor(now() / 1000);
  const claims = { sub: 'system:serviceaccount:apps:worker', aud: ISSUER, iat, exp: iat + 300 };
  const padded = await cluster.sign({ ...claims, padding: 'x'.repeat(16 * 1024) });
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: cluster.key.kid })).toString('base64url');
  const payload = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const candidates: Array<[string, string]> = [
    ['over 16 KiB', padded],
    ['not a JWS', 'https://not-a-token'],
    ['payload not JSON', `${header}.${Buffer.from(`{"iss":"${cluster.issuer}",`).toString('base64url')}.c2ln`],
    ['iss an object', `${header}.${payload({ ...claims, iss: { url: cluster.issuer } })}.c2ln`],
    ['iss with a colon, not a URL', `${header}.${payload({ ...claims, iss: 'urn:x:y' })}.c2ln`],
    ['a signature that is not base64url', `${header}.${payload({ ...claims, iss: cluster.issuer })}.***`],
    ['a garbage signature', `${header}.${payload({ ...claims, iss: cluster.issuer })}.c2ln`],
    ['five segments (JWE)', `${header}.${payload({ iss: cluster.issuer })}.a.b.c`],
  ];
  for (const [label, assertion] of candidates) {
    const response = await signIn(server.app, assertion);
    t.equal(response.statusCode, 400, `${label}: 400`);
    t.ok(['invalid_client', 'invalid_request'].includes(response.json().error), `${label}: ${response.json().error}`);
  }
  const wrongType = await signIn(server.app, await cluster.sign(claims), { client_assertion_type: 'urn:example:other' });
  expectInvalidClient(t, wrongType, 'another client_assertion_type');
  const tooLarge = await signIn(server.app, 'x'.repeat(70 * 1024));
  t.equal(tooLarge.statusCode, 413, 'a body over the token endpoint’s limit: 413');
});

t.test('a client that is disabled, expired or called from outside its IP ranges is refused', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster');
  await trust('cluster', cluster);
  const identity = (sa: string) => [{ issuer: 'cluster', subject: `system:serviceaccount:apps:${sa}` }];
  await federatedClient('disabled-one', identity('disabled-one'));
  await federatedClient('expiring-one', identity('expiring-one'), { expires_at: new Date(now() + 60_000).toISOString() });
  await federatedClient('fenced-one', identity('fenced-one'), { ip_ranges: ['192.0.2.0/24'] });
  await server.admin('POST', '/admin/clients/disabled-one/disable');
  const token = (sa: string) => kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: sa });

  expectInvalidClient(t, await signIn(server.app, await token('disabled-one')), 'disabled');
  await expectDenied(t, server, /client is disabled/, 'disabled');
  t.equal((await signIn(server.app, await token('expiring-one'))).statusCode, 200, 'before expiry');
  server.clock.advance(61_000);
  expectInvalidClient(t, await signIn(server.app, await token('expiring-one')), 'expired');
  await expectDenied(t, server, /client is expired/, 'expired');
  expectInvalidClient(t, await signIn(server.app, await token('fenced-one')), 'outside the IP ranges');
  await expectDenied(t, server, /outside the client's IP ranges/, 'IP ranges');
  const inside = await signIn(server.app, await token('fenced-one'), {}, { 'x-forwarded-for': '192.0.2.7' });
  t.equal(inside.statusCode, 400, 'X-Forwarded-For is not trusted without TRUST_PROXY');
});

t.test('failure budgets: federated refusals count like any failed authentication', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t, {
    protection: openBudgets({ failuresPerClientAndAddress: 3, failureBurstPerAddress: 3, failuresPerAddress: 3 }),
  });
  const cluster = await platforms.platform('cluster');
  await trust('cluster', cluster);
  await federatedClient('worker', [{ issuer: 'cluster', subject: 'system:serviceaccount:apps:worker' }]);
  const wrongAudience = await kubernetesToken(cluster, {
    now: now(),
    audience: 'https://elsewhere.example',
    namespace: 'apps',
    serviceAccount: 'worker',
  });
  for (let i = 0; i < 3; i++) t.equal((await signIn(server.app, wrongAudience)).statusCode, 400, `failure ${i + 1}: 400`);
  const throttled = await signIn(
    server.app,
    await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: 'worker' }),
  );
  t.equal(throttled.statusCode, 429, 'over the budget: 429, even with a good token');
  t.ok(throttled.headers['retry-after'], 'with Retry-After');
});

t.test('DPoP and grants work as for any client', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster');
  await trust('cluster', cluster);
  await federatedClient('bound', [{ issuer: 'cluster', subject: 'system:serviceaccount:apps:bound' }], { dpop_bound: true });
  const token = () => kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: 'bound' });
  expectOAuthError(t, await signIn(server.app, await token()), 400, 'invalid_request', 'a dpop_bound client without a proof');
  const { generateKeyPair, exportJWK } = await import('jose');
  const pair = await generateKeyPair('ES256');
  const proof = await new SignJWT({ htm: 'POST', htu: `${ISSUER}/oauth/token`, jti: crypto.randomUUID(), iat: Math.floor(now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(pair.publicKey) })
    .sign(pair.privateKey);
  const bound = await signIn(server.app, await token(), {}, { dpop: proof });
  t.equal(bound.statusCode, 200, 'with a proof');
  t.equal(bound.json().token_type, 'DPoP');
  expectOAuthError(t, await signIn(server.app, await token(), { scope: 'events:write' }), 400, 'invalid_scope', 'a scope not granted');
});

t.test('keys: rotation at the issuer, a stream of forged kids, the issuer down', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster');
  await trust('cluster', cluster);
  await federatedClient('worker', [{ issuer: 'cluster', subject: 'system:serviceaccount:apps:worker' }]);
  const token = (key = cluster.key) =>
    kubernetesToken({ ...cluster, key }, { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: 'worker' });
  const oldKey = cluster.key;
  t.equal((await signIn(server.app, await token())).statusCode, 200, 'first token');
  t.same(cluster.hits, { discovery: 1, jwks: 1 });

  // The platform rotates: the new kid is unknown, so the set is fetched again, once.
  await cluster.rotate();
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  t.equal((await signIn(server.app, await token())).statusCode, 200, 'a token of the new key');
  t.equal((await signIn(server.app, await token(oldKey))).statusCode, 200, 'the old key, still published, works too');
  t.same(cluster.hits, { discovery: 2, jwks: 2 }, 'one more fetch for the new kid');

  // A stream of forged kids (anyone can write a JWT with a trusted iss and a made-up kid):
  // at most one fetch per refetch interval.
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  for (let i = 0; i < 50; i++) {
    const forged = await cluster.sign(
      { sub: 'x', aud: ISSUER, exp: Math.floor(now() / 1000) + 60 },
      { key: { ...cluster.key, kid: `forged-${i}` } },
    );
    expectInvalidClient(t, await signIn(server.app, forged), `forged kid ${i}`);
  }
  t.same(cluster.hits, { discovery: 3, jwks: 3 }, '50 forged kids: one fetch');
  await expectDenied(t, server, /no key of the issuer matches kid "forged-/, 'forged kid');

  // The issuer goes down (never answers): known keys keep working, past the cache time too;
  // an unknown kid is refused once the one attempt of the interval has timed out.
  cluster.mode = 'silent';
  server.clock.advance(JWKS_CACHE_MS);
  t.equal(
    (await signIn(server.app, await token())).statusCode,
    200,
    'known key, set due, issuer silent: waits for the fetch, then answers from the set held',
  );
  const unknown = await cluster.sign(
    { sub: 'system:serviceaccount:apps:worker', aud: ISSUER, exp: Math.floor(now() / 1000) + 60 },
    {
      key: await platformKey('RS256'),
    },
  );
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  expectInvalidClient(t, await signIn(server.app, unknown), 'an unknown kid while the issuer is down');
  await expectDenied(t, server, /the issuer's keys cannot be had: discovery document did not answer within 400 ms/, 'timed out');
  const hitsBefore = cluster.hits.discovery;
  expectInvalidClient(t, await signIn(server.app, unknown), 'again, within the interval: refused');
  t.equal(cluster.hits.discovery, hitsBefore, 'without a fetch');
  t.equal((await signIn(server.app, await token())).statusCode, 200, 'the known key still works');
  cluster.mode = 'reset';
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  t.equal((await signIn(server.app, await token())).statusCode, 200, 'connections cut: the known key still works');
  server.clock.advance(JWKS_STALE_MS);
  expectInvalidClient(t, await signIn(server.app, await token()), 'an hour past its cache time, the held set is no longer used');
  await expectDenied(t, server, /the issuer's keys cannot be had: discovery document fetch failed/, 'connection reset');

  cluster.mode = 'up';
  server.clock.advance(JWKS_REFETCH_INTERVAL_MS);
  t.equal((await signIn(server.app, await token())).statusCode, 200, 'the issuer back: fetched again, accepted');
});

t.test('an issuer with inline keys, or with a jwks_uri, is never asked for discovery', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const airGapped = await platforms.platform('air-gapped', 'EdDSA');
  const direct = await platforms.platform('direct', 'PS256');
  airGapped.mode = 'reset';
  // The real GitHub issuer, its keys given inline: nothing is fetched anywhere.
  await trust('github', 'https://token.actions.githubusercontent.com', { jwks: { keys: [airGapped.key.publicJwk] } });
  // An audience that is no URI, as a Kubernetes or SPIRE audience may be.
  await trust('air-gapped', airGapped, { jwks: { keys: [airGapped.key.publicJwk] }, audience: 'portier' });
  await trust('direct', direct, { jwks_uri: direct.jwksUri });
  await federatedClient('release', [{ issuer: 'github', subject: 'repo:acme/billing:ref:refs/tags/v1.2.0' }]);
  await federatedClient('offline', [{ issuer: 'air-gapped', subject: 'spiffe://air.example/job' }]);
  await federatedClient('direct-one', [{ issuer: 'direct', subject: 'spiffe://direct.example/job' }]);

  const github = { ...airGapped, issuer: 'https://token.actions.githubusercontent.com' };
  const release = await githubActionsToken(github, {
    now: now(),
    audience: ISSUER,
    owner: 'acme',
    repo: 'billing',
    ref: 'refs/tags/v1.2.0',
  });
  t.equal((await signIn(server.app, release)).statusCode, 200, 'GitHub Actions token, inline keys');
  const svid = await spiffeSvid(airGapped, { now: now(), audience: 'portier', spiffeId: 'spiffe://air.example/job' });
  t.equal((await signIn(server.app, svid)).statusCode, 200, 'EdDSA, inline keys, the audience "portier"');
  t.same(airGapped.hits, { discovery: 0, jwks: 0 }, 'nothing fetched');
  const directSvid = await spiffeSvid(direct, { now: now(), audience: ISSUER, spiffeId: 'spiffe://direct.example/job' });
  t.equal((await signIn(server.app, directSvid)).statusCode, 200, 'PS256, keys at the jwks_uri');
  t.same(direct.hits, { discovery: 0, jwks: 1 }, 'the jwks_uri fetched, no discovery');
  const otherKey = await airGapped.sign(
    { sub: 'spiffe://air.example/job', aud: ISSUER, exp: Math.floor(now() / 1000) + 60 },
    {
      key: await platformKey('EdDSA'),
    },
  );
  expectInvalidClient(t, await signIn(server.app, otherKey), 'a kid the inline keys do not have');
  await expectDenied(t, server, /no key of the issuer matches kid/, 'inline, unknown kid');

  // A change of the issuer's keys is in force at once.
  const rotated = await platformKey('EdDSA');
  const patched = await server.admin('PATCH', '/admin/trusted-issuers/air-gapped', { jwks: { keys: [rotated.publicJwk] } });
  t.equal(patched.statusCode, 200);
  expectInvalidClient(t, await signIn(server.app, svid), 'the old inline key, replaced');
  const fresh = await spiffeSvid({ ...airGapped, key: rotated }, { now: now(), audience: 'portier', spiffeId: 'spiffe://air.example/job' });
  t.equal((await signIn(server.app, fresh)).statusCode, 200, 'the new inline key');
});

t.test('the SSRF guard: an issuer on a private address is refused when fetched, unless JWKS_URI_ALLOW_PRIVATE', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t, platformFetchConfig(false));
  const cluster = await platforms.platform('cluster');
  const byName = await platforms.platform('by-name');
  await trust('cluster', cluster);
  const localhostIssuer = byName.issuer.replace('127.0.0.1', 'localhost');
  await trust('by-name', localhostIssuer);
  await federatedClient('worker', [{ issuer: 'cluster', subject: 'system:serviceaccount:apps:worker' }]);
  await federatedClient('named', [{ issuer: 'by-name', subject: 'system:serviceaccount:apps:named' }]);
  const token = await kubernetesToken(cluster, { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: 'worker' });
  expectInvalidClient(t, await signIn(server.app, token), '127.0.0.1');
  await expectDenied(t, server, /discovery document names a non-public address \(127\.0\.0\.1\)/, 'literal address');
  const named = await kubernetesToken(
    { ...byName, issuer: localhostIssuer },
    { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: 'named' },
  );
  expectInvalidClient(t, await signIn(server.app, named), 'localhost');
  await expectDenied(t, server, /discovery document host resolves to a non-public address/, 'a name resolving to loopback');
  t.same(cluster.hits, { discovery: 0, jwks: 0 }, 'the issuer never saw a request');
  t.same(byName.hits, { discovery: 0, jwks: 0 });
});

t.test('a discovery document that names another issuer is refused', async (t) => {
  const { server, platforms, trust, federatedClient, now } = await setUp(t);
  const cluster = await platforms.platform('cluster');
  // Trusted with a trailing slash: the same document is found, but it names the issuer without one.
  const slashed = { ...cluster, issuer: `${cluster.issuer}/` };
  await trust('slashed', slashed);
  await federatedClient('worker', [{ issuer: 'slashed', subject: 'system:serviceaccount:apps:worker' }]);
  const token = await kubernetesToken(slashed, { now: now(), audience: ISSUER, namespace: 'apps', serviceAccount: 'worker' });
  expectInvalidClient(t, await signIn(server.app, token), 'discovery names another issuer');
  await expectDenied(t, server, /discovery document names another issuer/, 'issuer mismatch');
  t.equal(cluster.hits.jwks, 0, 'its jwks_uri was not fetched');
});
