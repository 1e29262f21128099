import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import { getClient } from '../../src/clients/clients.js';
import { CLIENT_ID_PATTERN } from '../../src/schemas/common.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { ADMIN_ID, addService, basicAuth, buildWithAdmin, postToken } from '../helpers.js';

// POST /admin/clients: what a created client looks like, the secret shown exactly once,
// and each semantic refusal (duplicate, unknown service or scope, bad CIDR, past expiry,
// JWKS rules). Field-level validation of bodies is in clients-validation.test.ts.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
type Response = Awaited<ReturnType<Server['admin']>>;
type Resource = Record<string, unknown> & { client_id: string; service_account: { id: string; username: string } };

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const BILLING = { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read'] };

/** The fields of the client resource (docs/admin-api.md, "Clients"), sorted. */
const RESOURCE_FIELDS = [
  'access_token_ttl',
  'auth_method',
  'claims',
  'client_id',
  'created_at',
  'created_by',
  'created_by_name',
  'description',
  'dpop_bound',
  'enabled',
  'expires_at',
  'federated_identities',
  'first_name',
  'grants',
  'ip_ranges',
  'jwks',
  'jwks_uri',
  'last_name',
  'last_used_at',
  'last_used_identity',
  'managed',
  'may_act',
  'name',
  'owner',
  'roles',
  'service_account',
  'status',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_email',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_uri',
  'tls_client_auth_subject_dn',
  'tls_client_certificate_bound_access_tokens',
  'token_quota',
  'updated_at',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function setUp(t: Test): Promise<Server> {
  const server = await buildWithAdmin(t);
  await addService(server.database, EVENTS);
  await addService(server.database, BILLING);
  return server;
}

t.test('create: 201 with the resource and a secret shown this once', async (t) => {
  const server = await setUp(t);
  const { admin } = server;
  const adminSub = (await getClient(server.database.db, ADMIN_ID, Date.now()))?.service_account.id;

  const response = await admin('POST', '/admin/clients', {
    client_id: 'eaglebe-events',
    name: 'API Eaglebe',
    description: 'OpenHappening integration Eaglebe',
    owner: 'user-42',
    first_name: 'Eaglebe',
    last_name: 'Events',
    roles: ['events-reader'],
    grants: [{ service: 'events', scopes: ['events:read'] }],
    ip_ranges: ['192.0.2.7/24', '2001:db8::/32', '127.0.0.1'],
  });
  t.equal(response.statusCode, 201);
  t.match(response.headers['content-type'], /^application\/json/);
  const created = response.json() as Resource & { client_secret: string };
  t.same(
    Object.keys(created).sort(),
    [...RESOURCE_FIELDS, 'client_secret'].sort(),
    'the documented fields and client_secret, nothing else',
  );
  t.match(
    created.client_secret,
    /^portier_cred_[0-9A-Za-z]{16}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/,
    'the secret has the portier_cred_ prefix',
  );
  t.match(created, {
    client_id: 'eaglebe-events',
    name: 'API Eaglebe',
    description: 'OpenHappening integration Eaglebe',
    owner: 'user-42',
    created_by: adminSub,
    first_name: 'Eaglebe',
    last_name: 'Events',
    roles: ['events-reader'],
    grants: [{ service: 'events', scopes: ['events:read'] }],
    auth_method: 'client_secret',
    jwks: null,
    expires_at: null,
    enabled: true,
    // Made through the API: never pruned by a configuration apply.
    managed: false,
    status: 'active',
    last_used_at: null,
    service_account: { username: 'service-account-eaglebe-events' },
  });
  t.same(
    [...(created.ip_ranges as string[])].sort(),
    ['127.0.0.1/32', '192.0.2.0/24', '2001:db8::/32'],
    'ranges normalised (host bits cleared)',
  );
  t.match(created.service_account.id, UUID, 'service_account.id is a UUID');
  t.type(adminSub, 'string');
  t.ok(Date.parse(String(created.created_at)) > 0 && Date.parse(String(created.updated_at)) > 0, 'timestamps are dates');

  // The secret works at the token endpoint.
  const token = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('eaglebe-events', created.client_secret) },
  );
  t.equal(token.statusCode, 200, 'the shown secret gets a token');

  // ... and is never shown again.
  const secret = created.client_secret;
  const reads: Array<[string, Response]> = [
    ['GET', await admin('GET', '/admin/clients/eaglebe-events')],
    ['list', await admin('GET', '/admin/clients')],
    ['list filtered', await admin('GET', '/admin/clients?owner=user-42')],
    ['PATCH', await admin('PATCH', '/admin/clients/eaglebe-events', { description: 'changed' })],
    ['disable', await admin('POST', '/admin/clients/eaglebe-events/disable')],
    ['enable', await admin('POST', '/admin/clients/eaglebe-events/enable')],
    ['bulk', await admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['eaglebe-events'] })],
    ['audit events', await admin('GET', '/admin/audit-events?limit=200')],
    ['audit events of the client', await admin('GET', '/admin/audit-events?client_id=eaglebe-events')],
  ];
  for (const [what, read] of reads) {
    t.equal(read.statusCode, 200, `${what}: 200`);
    t.notOk(read.body.includes(secret), `${what}: the secret is not in the response`);
    t.notMatch(read.body, /"client_secret"\s*:/, `${what}: no client_secret member`);
    t.notOk(read.body.includes('$argon2'), `${what}: no hash`);
  }
  const get = reads[0]?.[1].json() as Resource;
  t.same(Object.keys(get).sort(), RESOURCE_FIELDS, 'GET: the documented fields only');
  const events = ((reads[7]?.[1].json() ?? { items: [] }) as { items: Array<{ action: string; client_id: string | null }> }).items;
  t.ok(
    events.some((event) => event.action === 'client.created' && event.client_id === 'eaglebe-events'),
    'the creation was audited',
  );
});

t.test('client_id: generated when omitted, kept when given', async (t) => {
  const server = await setUp(t);
  const ids = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const response = await server.admin('POST', '/admin/clients', { name: `Generated ${i}`, owner: 'user-1' });
    t.equal(response.statusCode, 201);
    const created = response.json() as Resource;
    t.match(created.client_id, CLIENT_ID_PATTERN, `generated ${created.client_id} matches the client_id pattern`);
    t.ok(created.client_id.length >= 3 && created.client_id.length <= 64);
    t.equal(created.service_account.username, `service-account-${created.client_id}`);
    ids.add(created.client_id);
    t.equal((await server.admin('GET', `/admin/clients/${created.client_id}`)).statusCode, 200, 'and it can be read back');
  }
  t.equal(ids.size, 3, 'each generated client_id is different');

  for (const clientId of ['abc', 'a'.repeat(64), '0-starts.with_digit', 'x.y_z-9']) {
    const response = await server.admin('POST', '/admin/clients', { client_id: clientId, name: 'Given', owner: 'user-1' });
    t.equal(response.statusCode, 201, `"${clientId}" accepted`);
    t.equal((response.json() as Resource).client_id, clientId, 'kept as given');
  }
});

t.test('duplicate client_id: 409, and the first client is untouched', async (t) => {
  const server = await setUp(t);
  const first = await server.admin('POST', '/admin/clients', {
    client_id: 'dup-client',
    name: 'First',
    owner: 'user-1',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.equal(first.statusCode, 201);
  const second = await server.admin('POST', '/admin/clients', { client_id: 'dup-client', name: 'Second', owner: 'user-2' });
  expectProblem(t, second, 409, 'duplicate');
  t.notOk(second.body.includes('portier_cred_'), 'no secret in the refusal');
  const stored = (await server.admin('GET', '/admin/clients/dup-client')).json() as Resource;
  t.equal(stored.name, 'First');
  t.equal(stored.owner, 'user-1');
  const secret = (first.json() as { client_secret: string }).client_secret;
  const token = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('dup-client', secret) });
  t.equal(token.statusCode, 200, 'the first secret still works');
  // The admin's own client_id is taken too.
  expectProblem(
    t,
    await server.admin('POST', '/admin/clients', { client_id: ADMIN_ID, name: 'x', owner: 'y' }),
    409,
    'the admin client_id',
  );
});

t.test('semantic refusals name the field', async (t) => {
  const server = await setUp(t);
  const base = { name: 'Refused', owner: 'user-1' };
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['unknown service', { grants: [{ service: 'nope', scopes: [] }] }, ['/grants/0/service']],
    [
      'unknown service second',
      {
        grants: [
          { service: 'events', scopes: ['events:read'] },
          { service: 'nope', scopes: ['x'] },
        ],
      },
      ['/grants/1/service'],
    ],
    ['unknown scope', { grants: [{ service: 'events', scopes: ['events:read', 'events:delete'] }] }, ['/grants/0/scopes/1']],
    ['scope of another service', { grants: [{ service: 'events', scopes: ['billing:read'] }] }, ['/grants/0/scopes/0']],
    [
      'two unknown scopes',
      { grants: [{ service: 'billing', scopes: ['a', 'billing:read', 'b'] }] },
      ['/grants/0/scopes/0', '/grants/0/scopes/2'],
    ],
    [
      'service granted twice',
      {
        grants: [
          { service: 'events', scopes: [] },
          { service: 'events', scopes: ['events:read'] },
        ],
      },
      ['/grants/1/service'],
    ],
    ['bad CIDR', { ip_ranges: ['192.0.2.0/24', '300.0.0.0/8'] }, ['/ip_ranges/1']],
    ['prefix too long', { ip_ranges: ['192.0.2.0/33'] }, ['/ip_ranges/0']],
    ['IPv6 prefix too long', { ip_ranges: ['2001:db8::/129'] }, ['/ip_ranges/0']],
    ['not an address', { ip_ranges: ['10.0.0.0/8', '::/0', 'fe80::1::2'] }, ['/ip_ranges/2']],
    ['octal-looking IPv4', { ip_ranges: ['010.0.0.1'] }, ['/ip_ranges/0']],
    ['past expires_at', { expires_at: new Date(Date.now() - 60_000).toISOString() }, ['/expires_at']],
    ['expires_at now-ish (1 s ago)', { expires_at: new Date(Date.now() - 1000).toISOString() }, ['/expires_at']],
    ['expires_at in 1970', { expires_at: '1970-01-01T00:00:00Z' }, ['/expires_at']],
    [
      'all at once',
      { grants: [{ service: 'nope', scopes: [] }], ip_ranges: ['1.2.3.4/99'], expires_at: '2000-01-01T00:00:00Z' },
      ['/grants/0/service', '/ip_ranges/0', '/expires_at'],
    ],
  ];
  for (const [what, fields, paths] of cases) {
    const clientId = `refused-${what.replace(/[^a-z0-9]+/g, '-')}`.slice(0, 64);
    expectInvalid(t, await server.admin('POST', '/admin/clients', { client_id: clientId, ...base, ...fields }), paths, what);
    t.equal((await server.admin('GET', `/admin/clients/${clientId}`)).statusCode, 404, `${what}: nothing was created`);
  }
  const list = (await server.admin('GET', '/admin/clients')).json() as { items: Resource[] };
  t.same(
    list.items.map((item) => item.client_id),
    [ADMIN_ID],
    'no refused client exists',
  );
});

t.test('accepted values are stored as given (or normalised)', async (t) => {
  const server = await setUp(t);
  const inAYear = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  inAYear.setUTCMilliseconds(0);
  const offset = '2099-01-01T02:00:00+02:00';
  const response = await server.admin('POST', '/admin/clients', {
    client_id: 'stored-as-given',
    name: 'Stored',
    owner: 'operator@example.com',
    grants: [
      { service: 'events', scopes: ['events:write', 'events:read'] },
      { service: 'billing', scopes: [] },
    ],
    ip_ranges: ['192.0.2.1', '2001:DB8:0:0::1', '10.1.2.3/8', '10.0.0.0/8'],
    expires_at: inAYear.toISOString(),
  });
  t.equal(response.statusCode, 201);
  const created = response.json() as Resource;
  t.equal(created.owner, 'operator@example.com');
  t.equal(created.expires_at, inAYear.toISOString());
  t.equal(created.status, 'active', 'a future expiry is still active');
  t.same(
    (created.grants as Array<{ service: string; scopes: string[] }>).map((grant) => grant.service).sort(),
    ['billing', 'events'],
    'both grants',
  );
  t.same(
    [...(created.ip_ranges as string[])].sort(),
    ['10.0.0.0/8', '192.0.2.1/32', '2001:db8::1/128'].sort(),
    'bare addresses become host networks; duplicates after normalising are kept once',
  );

  const withOffset = await server.admin('POST', '/admin/clients', {
    client_id: 'with-offset',
    name: 'Offset',
    owner: 'u',
    expires_at: offset,
  });
  t.equal(withOffset.statusCode, 201);
  t.equal((withOffset.json() as Resource).expires_at, '2099-01-01T00:00:00.000Z', 'an offset is honoured and shown in UTC');

  const minimal = await server.admin('POST', '/admin/clients', { name: 'Minimal', owner: 'u' });
  t.equal(minimal.statusCode, 201);
  t.match(minimal.json(), {
    description: '',
    first_name: null,
    last_name: null,
    roles: [],
    grants: [],
    ip_ranges: [],
    expires_at: null,
    jwks: null,
  });
});

t.test('service account: created_by, owner and a fresh id for a re-created client', async (t) => {
  const server = await setUp(t);
  const readToken = await server.tokenFor('admin:read');
  t.ok(readToken);

  const first = (
    await server.admin('POST', '/admin/clients', { client_id: 'phoenix', name: 'Phoenix', owner: 'user-7' })
  ).json() as Resource;
  t.match(first.service_account.id, UUID);
  t.equal(first.service_account.username, 'service-account-phoenix');
  t.equal(first.owner, 'user-7');

  t.equal((await server.admin('DELETE', '/admin/clients/phoenix')).statusCode, 204);
  const again = await server.admin('POST', '/admin/clients', { client_id: 'phoenix', name: 'Phoenix again', owner: 'user-8' });
  t.equal(again.statusCode, 201, 'a deleted client_id can be used again');
  const second = again.json() as Resource;
  t.match(second.service_account.id, UUID);
  t.not(second.service_account.id, first.service_account.id, 'the re-created client is a different service account');
  t.equal(second.service_account.username, 'service-account-phoenix', 'with the same user name');
  t.equal(second.owner, 'user-8');

  // created_by is the sub of whichever admin made it.
  const other = await server.admin('POST', '/admin/clients', {
    client_id: 'second-admin',
    name: 'Second admin',
    owner: 'user-9',
    grants: [{ service: 'portier-admin', scopes: ['admin:write'] }],
  });
  const otherAdmin = other.json() as Resource & { client_secret: string };
  const otherToken = await server.tokenFor('admin:write', 'second-admin', otherAdmin.client_secret);
  const byOther = (
    await server.admin('POST', '/admin/clients', { client_id: 'made-by-second', name: 'x', owner: 'user-1' }, otherToken)
  ).json() as Resource;
  t.equal(byOther.created_by, otherAdmin.service_account.id, 'created_by is the sub of the token that created it');
  t.equal(
    second.created_by,
    (await getClient(server.database.db, ADMIN_ID, Date.now()))?.service_account.id,
    'and the root admin’s sub for its own',
  );
});

t.test('private_key_jwt clients', async (t) => {
  const server = await setUp(t);
  const ec = await generateKeyPair('ES256', { extractable: true });
  const rsa = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const ed = await generateKeyPair('EdDSA', { extractable: true });
  const ecPublic = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256' };
  const rsaPublic = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1' };
  const edPublic = await exportJWK(ed.publicKey);
  const ecPrivate = { ...(await exportJWK(ec.privateKey)), kid: 'ec-1' };

  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'jwt-client',
    name: 'JWT client',
    owner: 'user-1',
    auth_method: 'private_key_jwt',
    jwks: { keys: [ecPublic, rsaPublic, edPublic] },
  });
  t.equal(created.statusCode, 201);
  const body = created.json() as Resource;
  t.notOk('client_secret' in body, 'no client_secret for private_key_jwt');
  t.notOk(created.body.includes('portier_cred_'), 'no secret anywhere in the response');
  t.equal(body.auth_method, 'private_key_jwt');
  t.same((body.jwks as { keys: unknown[] }).keys, [ecPublic, rsaPublic, edPublic], 'the public JWKS is stored as given');
  const read = (await server.admin('GET', '/admin/clients/jwt-client')).json() as Resource;
  t.same(read.jwks, body.jwks, 'and read back');

  const refusals: Array<[string, Record<string, unknown>, string[]]> = [
    ['a private key (has d)', { auth_method: 'private_key_jwt', jwks: { keys: [ecPrivate] } }, ['/jwks/keys/0']],
    [
      'a private key after a public one',
      { auth_method: 'private_key_jwt', jwks: { keys: [ecPublic, { ...ecPrivate, kid: 'ec-2' }] } },
      ['/jwks/keys/1'],
    ],
    [
      'a symmetric key (has k)',
      { auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' }] } },
      ['/jwks/keys/0'],
    ],
    [
      'an unusable key',
      { auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] } },
      ['/jwks/keys/0'],
    ],
    ['no jwks', { auth_method: 'private_key_jwt' }, ['/jwks']],
    ['jwks null', { auth_method: 'private_key_jwt', jwks: null }, ['/jwks']],
    ['jwks without keys', { auth_method: 'private_key_jwt', jwks: { keys: [] } }, ['/jwks/keys']],
    ['a jwks on a client_secret client', { auth_method: 'client_secret', jwks: { keys: [ecPublic] } }, ['/jwks']],
    ['a jwks with auth_method omitted', { jwks: { keys: [ecPublic] } }, ['/jwks']],
  ];
  for (const [what, fields, paths] of refusals) {
    expectInvalid(
      t,
      await server.admin('POST', '/admin/clients', { client_id: 'jwt-refused', name: 'x', owner: 'u', ...fields }),
      paths,
      what,
    );
  }
  t.equal((await server.admin('GET', '/admin/clients/jwt-refused')).statusCode, 404, 'none was created');
});
