import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import { auditEvents } from '../../src/db/schema.js';
import type { TrustedIssuerResource } from '../../src/schemas/trusted-issuers.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { buildWithAdmin } from '../helpers.js';

// /admin/trusted-issuers: the platforms federated clients sign in with. The shape and its
// bounds (each field out of range a 400 naming it), the defaults, conflicts, the 409 that
// names the clients still using an issuer, the audit trail, and read-only admins.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

const CLUSTER = { id: 'prod-cluster', issuer: 'https://oidc.prod.example' };

async function keyPair(alg: 'ES256' | 'RS256' = 'ES256') {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicJwk: { ...(await exportJWK(publicKey)), kid: `${alg}-key`, alg }, privateJwk: await exportJWK(privateKey) };
}

async function createIssuer(t: Test, server: Server, body: Record<string, unknown> = CLUSTER): Promise<TrustedIssuerResource> {
  const response = await server.admin('POST', '/admin/trusted-issuers', body);
  t.equal(response.statusCode, 201, `trusted issuer ${String(body.id)} created`);
  return response.json() as TrustedIssuerResource;
}

t.test('create with defaults, then get, list, patch and delete', async (t) => {
  const server = await buildWithAdmin(t);
  const created = await createIssuer(t, server);
  t.match(created, {
    id: 'prod-cluster',
    issuer: 'https://oidc.prod.example',
    jwks_uri: null,
    jwks: null,
    audience: null,
    max_token_age: 3600,
    algorithms: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'],
  });
  t.ok(!Number.isNaN(Date.parse(created.created_at)), 'created_at is a date');
  t.same((await server.admin('GET', '/admin/trusted-issuers/prod-cluster')).json(), created, 'GET returns what POST returned');
  t.same((await server.admin('GET', '/admin/trusted-issuers')).json(), { items: [created] }, 'listed');

  const { publicJwk } = await keyPair();
  const github = await createIssuer(t, server, {
    id: 'github',
    issuer: 'https://token.actions.githubusercontent.com',
    jwks: { keys: [{ ...publicJwk, x5c: ['ignored'] }] },
    audience: 'https://portier.example',
    max_token_age: 600,
    algorithms: ['RS256'],
  });
  t.same(github.jwks, { keys: [publicJwk] }, 'inline keys stored as public keys with kid and alg only');
  t.match(github, { audience: 'https://portier.example', max_token_age: 600, algorithms: ['RS256'] });

  // PATCH: one of jwks and jwks_uri replaces the other; both null goes back to discovery.
  let patched = await server.admin('PATCH', '/admin/trusted-issuers/github', {
    jwks_uri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
  });
  t.equal(patched.statusCode, 200);
  t.match(patched.json(), { jwks: null, jwks_uri: 'https://token.actions.githubusercontent.com/.well-known/jwks', max_token_age: 600 });
  patched = await server.admin('PATCH', '/admin/trusted-issuers/github', { jwks_uri: null, max_token_age: 60, audience: null });
  t.match(patched.json(), { jwks: null, jwks_uri: null, max_token_age: 60, audience: null }, 'discovery, and the bounds’ minimum');
  const idChange = await server.admin('PATCH', '/admin/trusted-issuers/github', { id: 'gh' });
  expectInvalid(t, idChange, ['/id'], 'id cannot change');

  t.equal((await server.admin('DELETE', '/admin/trusted-issuers/github')).statusCode, 204, 'deleted');
  expectProblem(t, await server.admin('GET', '/admin/trusted-issuers/github'), 404, 'gone');
  expectProblem(t, await server.admin('DELETE', '/admin/trusted-issuers/github'), 404, 'deleting again');
  expectProblem(t, await server.admin('PATCH', '/admin/trusted-issuers/nobody', { max_token_age: 100 }), 404, 'patching an unknown one');

  const actions = (await server.database.db.select().from(auditEvents))
    .map((row) => ({ action: row.action, details: row.details as Record<string, unknown> }))
    .filter((row) => row.action.startsWith('trusted_issuer.'));
  t.same(
    actions.map((row) => row.action),
    ['trusted_issuer.created', 'trusted_issuer.created', 'trusted_issuer.updated', 'trusted_issuer.updated', 'trusted_issuer.deleted'],
    'every change audited',
  );
  t.same(actions[1]?.details.jwks, { kids: ['ES256-key'] }, 'of inline keys only their kids');
  t.same(actions[3]?.details.changes, {
    max_token_age: { from: 600, to: 60 },
    audience: { from: 'https://portier.example', to: null },
    jwks_uri: { from: 'https://token.actions.githubusercontent.com/.well-known/jwks', to: null },
  });
});

t.test('every field out of range or malformed: 400 naming the field', async (t) => {
  const server = await buildWithAdmin(t);
  const { publicJwk, privateJwk } = await keyPair();
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['id too short', { ...CLUSTER, id: 'ab' }, ['/id']],
    ['id too long', { ...CLUSTER, id: 'a'.repeat(65) }, ['/id']],
    ['id with upper case', { ...CLUSTER, id: 'Prod' }, ['/id']],
    ['issuer not https', { ...CLUSTER, issuer: 'http://oidc.prod.example' }, ['/issuer']],
    ['issuer not a URL', { ...CLUSTER, issuer: 'https://' }, ['/issuer']],
    ['issuer with a query', { ...CLUSTER, issuer: 'https://oidc.prod.example/?tenant=1' }, ['/issuer']],
    ['issuer with a fragment', { ...CLUSTER, issuer: 'https://oidc.prod.example/#x' }, ['/issuer']],
    ['issuer with credentials', { ...CLUSTER, issuer: 'https://user:pw@oidc.prod.example' }, ['/issuer']],
    ['jwks_uri not https', { ...CLUSTER, jwks_uri: 'http://oidc.prod.example/keys' }, ['/jwks_uri']],
    ['jwks and jwks_uri', { ...CLUSTER, jwks_uri: 'https://oidc.prod.example/keys', jwks: { keys: [publicJwk] } }, ['/jwks_uri']],
    ['jwks with a private key', { ...CLUSTER, jwks: { keys: [{ ...privateJwk, kid: 'x' }] } }, ['/jwks/keys/0']],
    ['jwks with a symmetric key', { ...CLUSTER, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, ['/jwks/keys/0']],
    ['jwks without keys', { ...CLUSTER, jwks: { keys: [] } }, ['/jwks/keys']],
    ['audience with a space', { ...CLUSTER, audience: 'not a uri' }, ['/audience']],
    ['audience empty', { ...CLUSTER, audience: '' }, ['/audience']],
    ['max_token_age below 60', { ...CLUSTER, max_token_age: 59 }, ['/max_token_age']],
    ['max_token_age above 86400', { ...CLUSTER, max_token_age: 86_401 }, ['/max_token_age']],
    ['max_token_age not whole', { ...CLUSTER, max_token_age: 600.5 }, ['/max_token_age']],
    ['max_token_age a string', { ...CLUSTER, max_token_age: '600' }, ['/max_token_age']],
    ['algorithms with none', { ...CLUSTER, algorithms: ['none'] }, ['/algorithms/0']],
    ['algorithms with HS256', { ...CLUSTER, algorithms: ['RS256', 'HS256'] }, ['/algorithms/1']],
    ['algorithms with ES512 (no assertion may use it)', { ...CLUSTER, algorithms: ['ES512'] }, ['/algorithms/0']],
    ['algorithms empty', { ...CLUSTER, algorithms: [] }, ['/algorithms']],
    ['algorithms repeated', { ...CLUSTER, algorithms: ['RS256', 'RS256'] }, ['/algorithms']],
    ['an unknown field', { ...CLUSTER, keys: [] }, ['/keys']],
    ['issuer missing', { id: 'prod-cluster' }, ['/issuer']],
  ];
  for (const [label, body, paths] of cases) expectInvalid(t, await server.admin('POST', '/admin/trusted-issuers', body), paths, label);
  await createIssuer(t, server);
  expectInvalid(
    t,
    await server.admin('PATCH', '/admin/trusted-issuers/prod-cluster', { max_token_age: 0 }),
    ['/max_token_age'],
    'PATCH too',
  );
  expectInvalid(
    t,
    await server.admin('PATCH', '/admin/trusted-issuers/prod-cluster', { algorithms: ['HS512'] }),
    ['/algorithms/0'],
    'PATCH HS512',
  );
  expectInvalid(t, await server.admin('PATCH', '/admin/trusted-issuers/prod-cluster', {}), ['/'], 'an empty PATCH');
  expectInvalid(t, await server.admin('GET', '/admin/trusted-issuers/NOT_AN_ID'), ['/params/id'], 'a malformed id in the path');
});

t.test('conflicts: the same id or the same issuer twice', async (t) => {
  const server = await buildWithAdmin(t);
  await createIssuer(t, server);
  const sameId = await server.admin('POST', '/admin/trusted-issuers', { ...CLUSTER, issuer: 'https://other.example' });
  t.match(expectProblem(t, sameId, 409, 'same id').detail, /id "prod-cluster" already exists/);
  const sameIssuer = await server.admin('POST', '/admin/trusted-issuers', { ...CLUSTER, id: 'prod-cluster-2' });
  t.match(expectProblem(t, sameIssuer, 409, 'same issuer').detail, /already has the issuer/);
  await createIssuer(t, server, { id: 'other', issuer: 'https://other.example' });
  const patchedOnto = await server.admin('PATCH', '/admin/trusted-issuers/other', { issuer: CLUSTER.issuer });
  expectProblem(t, patchedOnto, 409, 'PATCH onto another’s issuer');
});

t.test('an issuer a client uses cannot be deleted: 409 naming the clients', async (t) => {
  const server = await buildWithAdmin(t);
  await createIssuer(t, server);
  for (const clientId of ['reporter', 'exporter']) {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: clientId,
      name: clientId,
      owner: 'team',
      auth_method: 'federated',
      federated_identities: [{ issuer: 'prod-cluster', subject: `system:serviceaccount:payments:${clientId}` }],
    });
    t.equal(created.statusCode, 201);
  }
  const refused = await server.admin('DELETE', '/admin/trusted-issuers/prod-cluster');
  const problem = expectProblem(t, refused, 409, 'in use');
  t.same(problem.clients, ['exporter', 'reporter'], 'the clients are named');
  t.match(problem.detail, /exporter, reporter/);
  t.equal((await server.admin('GET', '/admin/trusted-issuers/prod-cluster')).statusCode, 200, 'still there');

  t.equal((await server.admin('DELETE', '/admin/clients/reporter')).statusCode, 204);
  const switched = await server.admin('PATCH', '/admin/clients/exporter', { auth_method: 'client_secret' });
  t.equal(switched.statusCode, 200, 'the other client switched to a secret');
  t.equal((await server.admin('DELETE', '/admin/trusted-issuers/prod-cluster')).statusCode, 204, 'then the issuer can go');
  const denied = await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'trusted_issuer.deleted'));
  t.equal(denied.length, 1, 'the delete is audited once');
});

t.test('read-only admins may read, not write; no token: 401', async (t) => {
  const server = await buildWithAdmin(t);
  await createIssuer(t, server);
  const reader = await server.tokenFor('admin:read');
  t.equal((await server.admin('GET', '/admin/trusted-issuers', undefined, reader)).statusCode, 200, 'list with admin:read');
  expectProblem(
    t,
    await server.admin('POST', '/admin/trusted-issuers', { id: 'x-issuer', issuer: 'https://x.example' }, reader),
    403,
    'create',
  );
  expectProblem(t, await server.admin('DELETE', '/admin/trusted-issuers/prod-cluster', undefined, reader), 403, 'delete');
  const anonymous = await server.app.inject({ method: 'GET', url: '/admin/trusted-issuers' });
  expectProblem(t, anonymous, 401, 'no token');
});
