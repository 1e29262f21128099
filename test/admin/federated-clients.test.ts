import { eq } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { auditEvents, clientCredentials, clientFederatedIdentities } from '../../src/db/schema.js';
import type { ClientResource } from '../../src/schemas/clients.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { addService, basicAuth, buildWithAdmin, postToken } from '../helpers.js';

// Clients with auth_method "federated": their federated_identities (1 to 10, each naming a
// trusted issuer that exists), no secret, and the switches between methods that PATCH
// makes, as for private_key_jwt.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

const REPORTER = { issuer: 'prod-cluster', subject: 'system:serviceaccount:payments:reporter' };

async function setUp(t: Test): Promise<Server> {
  const server = await buildWithAdmin(t);
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  for (const [id, issuer] of [
    ['prod-cluster', 'https://oidc.prod.example'],
    ['github', 'https://token.actions.githubusercontent.com'],
  ]) {
    t.equal((await server.admin('POST', '/admin/trusted-issuers', { id, issuer })).statusCode, 201);
  }
  return server;
}

function createBody(extra: Record<string, unknown> = {}) {
  return {
    client_id: 'reporter',
    name: 'Reporter',
    owner: 'payments',
    grants: [{ service: 'events', scopes: ['events:read'] }],
    auth_method: 'federated',
    federated_identities: [REPORTER],
    ...extra,
  };
}

t.test('create: no secret, the identities in the resource, audited', async (t) => {
  const server = await setUp(t);
  const response = await server.admin(
    'POST',
    '/admin/clients',
    createBody({
      federated_identities: [
        REPORTER,
        {
          issuer: 'github',
          subject: 'repo:acme/billing:ref:refs/heads/main',
          claims: { repository_owner: 'acme', runner_environment: 'github-hosted', run_attempt: 1, '/kubernetes.io/namespace': 'x' },
        },
      ],
    }),
  );
  t.equal(response.statusCode, 201);
  const created = response.json() as ClientResource & { client_secret?: string };
  t.notOk('client_secret' in created, 'no secret shown');
  t.equal(created.auth_method, 'federated');
  t.same(created.federated_identities, [
    {
      issuer: 'github',
      subject: 'repo:acme/billing:ref:refs/heads/main',
      claims: { repository_owner: 'acme', runner_environment: 'github-hosted', run_attempt: 1, '/kubernetes.io/namespace': 'x' },
    },
    { ...REPORTER, claims: {} },
  ]);
  t.equal(created.last_used_identity, null);
  const secrets = await server.database.db
    .select()
    .from(clientCredentials)
    .where(eq(clientCredentials.clientUuid, created.service_account.id));
  t.same(secrets, [], 'no secret stored');
  const event = (await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'client.created'))).find(
    (row) => row.clientId === 'reporter',
  );
  t.match(event?.details, { auth_method: 'federated', federated_identities: [REPORTER, { issuer: 'github' }] }, 'audited');

  const listed = await server.admin('GET', '/admin/clients?name=Reporter');
  t.same((listed.json() as { items: ClientResource[] }).items[0]?.federated_identities, created.federated_identities, 'listed with them');
  const other = await server.admin('GET', '/admin/clients/root-admin');
  t.same(other.json().federated_identities, [], 'a secret client has none');

  // No secret to regenerate.
  expectProblem(t, await server.admin('POST', '/admin/clients/reporter/secret'), 409, 'no secret to regenerate');
  // No secret to authenticate with, either.
  const basic = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('reporter', 'anything-at-all') },
  );
  t.equal(basic.statusCode, 401, 'a secret for a federated client: 401');
});

t.test('the identities’ rules: each a 400 naming the field', async (t) => {
  const server = await setUp(t);
  const identity = (extra: Record<string, unknown>) => ({ ...REPORTER, ...extra });
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['federated without identities', { federated_identities: undefined }, ['/federated_identities']],
    ['an empty list', { federated_identities: [] }, ['/federated_identities']],
    [
      'eleven identities',
      { federated_identities: Array.from({ length: 11 }, (_, i) => identity({ subject: `s-${i}` })) },
      ['/federated_identities'],
    ],
    ['an unknown trusted issuer', { federated_identities: [identity({ issuer: 'nowhere' })] }, ['/federated_identities/0/issuer']],
    ['a malformed issuer id', { federated_identities: [identity({ issuer: 'No Such' })] }, ['/federated_identities/0/issuer']],
    ['the same issuer and subject twice', { federated_identities: [REPORTER, REPORTER] }, ['/federated_identities/1/subject']],
    ['an empty subject', { federated_identities: [identity({ subject: '' })] }, ['/federated_identities/0/subject']],
    [
      'a subject over 512 characters',
      { federated_identities: [identity({ subject: 'x'.repeat(513) })] },
      ['/federated_identities/0/subject'],
    ],
    [
      'a subject with a control character',
      { federated_identities: [identity({ subject: 'a\u0000b' })] },
      ['/federated_identities/0/subject'],
    ],
    [
      'a claim value that is an object',
      { federated_identities: [identity({ claims: { ns: { a: 1 } } })] },
      ['/federated_identities/0/claims/ns'],
    ],
    ['a claim name with a space', { federated_identities: [identity({ claims: { 'a b': 'x' } })] }, ['/federated_identities/0/claims']],
    [
      'a pointer with a bad escape',
      { federated_identities: [identity({ claims: { '/a~2b': 'x' } })] },
      ['/federated_identities/0/claims/~1a~02b'],
    ],
    [
      '21 claims',
      { federated_identities: [identity({ claims: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`c${i}`, 'x'])) })] },
      ['/federated_identities/0/claims'],
    ],
    ['an unknown member', { federated_identities: [identity({ audience: 'x' })] }, ['/federated_identities/0/audience']],
    ['identities for a secret client', { auth_method: 'client_secret' }, ['/federated_identities']],
    [
      'identities for a private_key_jwt client',
      { auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks' },
      ['/federated_identities'],
    ],
    ['a jwks_uri for a federated client', { jwks_uri: 'https://keys.example/jwks' }, ['/jwks_uri']],
  ];
  for (const [label, extra, paths] of cases) {
    const body: Record<string, unknown> = createBody(extra);
    if ('federated_identities' in extra && extra.federated_identities === undefined) delete body.federated_identities;
    expectInvalid(t, await server.admin('POST', '/admin/clients', body), paths, label);
  }
  t.equal((await server.admin('GET', '/admin/clients/reporter')).statusCode, 404, 'nothing was written');
  const rows = await server.database.db.select().from(clientFederatedIdentities);
  t.same(rows, [], 'no identity rows either');
});

t.test('PATCH: replace the identities, switch methods as private_key_jwt does', async (t) => {
  const server = await setUp(t);
  t.equal((await server.admin('POST', '/admin/clients', createBody())).statusCode, 201);
  const replaced = await server.admin('PATCH', '/admin/clients/reporter', {
    federated_identities: [{ issuer: 'github', subject: 'repo:acme/reports:ref:refs/heads/main' }],
  });
  t.equal(replaced.statusCode, 200);
  t.same(replaced.json().federated_identities, [{ issuer: 'github', subject: 'repo:acme/reports:ref:refs/heads/main', claims: {} }]);
  const [updated] = (await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'client.updated'))).map(
    (row) => row.details as { changes: Record<string, unknown> },
  );
  t.ok(updated?.changes.federated_identities, 'the change audited with before and after');
  expectInvalid(
    t,
    await server.admin('PATCH', '/admin/clients/reporter', { federated_identities: [] }),
    ['/federated_identities'],
    'emptied',
  );
  expectInvalid(
    t,
    await server.admin('PATCH', '/admin/clients/reporter', { federated_identities: [{ issuer: 'gone', subject: 'x' }] }),
    ['/federated_identities/0/issuer'],
    'an unknown issuer',
  );

  // federated → client_secret: identities go, a new secret is shown once.
  const toSecret = await server.admin('PATCH', '/admin/clients/reporter', { auth_method: 'client_secret' });
  t.equal(toSecret.statusCode, 200);
  const withSecret = toSecret.json() as ClientResource & { client_secret?: string };
  t.type(withSecret.client_secret, 'string', 'a new secret');
  t.same(withSecret.federated_identities, [], 'no identities left');
  const token = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('reporter', withSecret.client_secret ?? '') },
  );
  t.equal(token.statusCode, 200, 'the secret works');

  // client_secret → federated: identities required, then the secrets go.
  expectInvalid(
    t,
    await server.admin('PATCH', '/admin/clients/reporter', { auth_method: 'federated' }),
    ['/federated_identities'],
    'no list',
  );
  const toFederated = await server.admin('PATCH', '/admin/clients/reporter', {
    auth_method: 'federated',
    federated_identities: [REPORTER],
  });
  t.equal(toFederated.statusCode, 200);
  t.notOk('client_secret' in toFederated.json(), 'no secret shown');
  const old = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('reporter', withSecret.client_secret ?? '') },
  );
  t.equal(old.statusCode, 401, 'the old secret no longer works');
  const events = await server.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'client.updated'));
  t.match(events.at(-1)?.details, { secrets: 'secrets removed', changes: { auth_method: { from: 'client_secret', to: 'federated' } } });

  // federated → private_key_jwt: identities go; identities for it are refused.
  const toKeys = await server.admin('PATCH', '/admin/clients/reporter', {
    auth_method: 'private_key_jwt',
    jwks_uri: 'https://keys.example/jwks',
  });
  t.equal(toKeys.statusCode, 200);
  t.same(toKeys.json().federated_identities, []);
  expectInvalid(
    t,
    await server.admin('PATCH', '/admin/clients/reporter', { federated_identities: [REPORTER] }),
    ['/federated_identities'],
    'not federated',
  );
  t.same(await server.database.db.select().from(clientFederatedIdentities), [], 'no identity rows');
});
