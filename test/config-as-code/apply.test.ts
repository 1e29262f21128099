import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import type { Actor } from '../../src/audit/events.js';
import { createClient } from '../../src/clients/clients.js';
import { applyConfig, exportConfig } from '../../src/config-as-code/apply.js';
import { ConfigDocumentError, checkDocument, parseDocumentText } from '../../src/config-as-code/document.js';
import type { Database } from '../../src/db/connect.js';
import { auditEvents, clientCredentials, clients, trustedIssuers } from '../../src/db/schema.js';
import { createTrustedIssuer } from '../../src/federation/trusted-issuers.js';
import { prepareDatabase } from '../../src/prepare.js';
import type { CreateClientInput } from '../../src/schemas/clients.js';
import type { ApplyResult, ConfigDocument } from '../../src/schemas/config.js';
import type { TrustedIssuerInput } from '../../src/schemas/trusted-issuers.js';
import { createService } from '../../src/services/services.js';
import { rejection } from '../expect.js';
import { CLI_ACTOR, createTestDatabase, testConfig } from '../helpers.js';
import { platformKey } from '../platforms.js';

// Configuration as code through its plain functions (the admin API and the CLI call the
// same): create, update and prune; one transaction; idempotence; secrets made once and
// kept; every error named by its place, with nothing applied; two applies at once; an
// export applied to a fresh instance exports the same. Trusted issuers: made before the
// federated clients that name them, pruned after the clients that used them.

const ACTOR: Actor = { clientId: 'pipeline', sub: 'pipeline-sub' };

async function prepared(t: Test): Promise<Database> {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  return database;
}

function apply(database: Database, document: unknown, options: { dryRun?: boolean; prune?: boolean } = {}): Promise<ApplyResult> {
  return applyConfig(database, checkDocument(document), {
    dryRun: options.dryRun ?? false,
    prune: options.prune ?? false,
    actor: ACTOR,
    now: Date.now(),
  });
}

/** The errors of a refused apply, as `place: message` lines. */
async function refusal(promise: Promise<unknown>): Promise<string[]> {
  const error = await rejection(promise);
  if (!(error instanceof ConfigDocumentError)) throw error;
  return error.errors.map((fieldError) => `${fieldError.path}: ${fieldError.message}`);
}

const EVENTS = { id: 'events', name: 'Events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const VENDOR = { client_id: 'vendor', name: 'Vendor', owner: 'team-a', grants: [{ service: 'events', scopes: ['events:read'] }] };
const CLUSTER = { id: 'prod-cluster', issuer: 'https://oidc.prod.example' };
/** A federated client signing in with a token of `issuer`. */
function workload(clientId: string, issuer: string): CreateClientInput & { client_id: string } {
  return {
    client_id: clientId,
    name: 'Workload',
    owner: 'team-a',
    auth_method: 'federated',
    federated_identities: [{ issuer, subject: `system:serviceaccount:apps:${clientId}` }],
  };
}

/** Everything an apply could have written: to check that a refused one wrote nothing. */
async function snapshot(database: Database) {
  return {
    document: await exportConfig(database.db, Date.now()),
    secrets: await database.db.select().from(clientCredentials).orderBy(clientCredentials.id),
    audit: (await database.db.select().from(auditEvents)).length,
  };
}

t.test('create, then the same document again: no change, no new secret', async (t) => {
  const database = await prepared(t);
  const { publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const document = {
    // A client granting a service listed after it is fine: services are made first.
    clients: [
      VENDOR,
      {
        client_id: 'partner',
        name: 'Partner',
        owner: 'team-b',
        auth_method: 'private_key_jwt',
        jwks: { keys: [jwk] },
        ip_ranges: ['192.0.2.7'],
      },
    ],
    services: [EVENTS],
  };
  const first = await apply(database, document);
  t.equal(first.applied, true);
  t.same(first.changes, [
    { op: 'create', kind: 'service', id: 'events', fields: ['name', 'audience', 'scopes'] },
    { op: 'create', kind: 'client', id: 'vendor', fields: ['name', 'owner', 'grants'] },
    { op: 'create', kind: 'client', id: 'partner', fields: ['name', 'owner', 'auth_method', 'jwks', 'ip_ranges'] },
  ]);
  t.same(Object.keys(first.secrets), ['vendor'], 'a secret for the new secret client only');
  t.match(first.secrets.vendor, /^portier_cred_/);
  const [vendor] = await database.db.select().from(clients).where(eq(clients.clientId, 'vendor'));
  t.equal(vendor?.managed, true, 'marked managed');
  const secretsBefore = await database.db.select().from(clientCredentials);

  const again = await apply(database, document);
  t.same(again, { applied: true, changes: [], secrets: {} }, 'the same document again changes nothing');
  t.same(await database.db.select().from(clientCredentials), secretsBefore, 'and regenerates no secret');
  // The jwk was given with its kid and alg; the ip range as an address: both are kept in
  // their stored form (the kid-less members jose exports, a /32), which is still no change.
  const reordered = { services: [{ ...EVENTS, scopes: ['events:write', 'events:read'] }], clients: document.clients };
  t.same((await apply(database, reordered)).changes, [], 'the order of a list does not matter');
});

t.test('updates change what differs, leave out what is left out, and keep the secrets', async (t) => {
  const database = await prepared(t);
  const created = await apply(database, { services: [EVENTS], clients: [{ ...VENDOR, roles: ['reader'], description: 'first' }] });
  const secretsBefore = await database.db.select().from(clientCredentials);
  const result = await apply(database, {
    services: [{ ...EVENTS, name: 'Events API' }],
    // description left out: it stays as it is.
    clients: [{ ...VENDOR, roles: ['reader', 'writer'], expires_at: '2099-01-01T00:00:00Z' }],
  });
  t.same(result.changes, [
    { op: 'update', kind: 'service', id: 'events', fields: ['name'] },
    { op: 'update', kind: 'client', id: 'vendor', fields: ['roles', 'expires_at'] },
  ]);
  t.same(result.secrets, {});
  t.same(await database.db.select().from(clientCredentials), secretsBefore, 'the secret is the one made at creation');
  const exported = await exportConfig(database.db, Date.now());
  t.match(
    exported.clients?.find((client) => client.client_id === 'vendor'),
    {
      description: 'first',
      roles: ['reader', 'writer'],
      expires_at: '2099-01-01T00:00:00.000Z',
    },
  );
  t.ok(created.secrets.vendor);

  // A switch to client_secret makes a secret: shown like a new client's.
  const { publicKey } = await generateKeyPair('ES256');
  const jwks = { keys: [await exportJWK(publicKey)] };
  await apply(database, { clients: [{ client_id: 'switcher', name: 'S', owner: 'o', auth_method: 'private_key_jwt', jwks }] });
  const switched = await apply(database, {
    clients: [{ client_id: 'switcher', name: 'S', owner: 'o', auth_method: 'client_secret', jwks: null }],
  });
  t.same(switched.changes, [{ op: 'update', kind: 'client', id: 'switcher', fields: ['auth_method', 'jwks'] }]);
  t.match(switched.secrets.switcher, /^portier_cred_/);

  // An apply acts as an admin, who may pass a client on to another owner.
  const passedOn = await apply(database, {
    clients: [{ client_id: 'switcher', name: 'S', owner: 'someone-else', auth_method: 'client_secret', jwks: null }],
  });
  t.same(passedOn.changes, [{ op: 'update', kind: 'client', id: 'switcher', fields: ['owner'] }]);
  t.same(passedOn.secrets, {}, 'a new owner keeps the secret');
});

t.test('errors name their place, every one of them, and nothing is applied', async (t) => {
  const database = await prepared(t);
  await apply(database, { services: [EVENTS], clients: [VENDOR] });
  const before = await snapshot(database);
  const lines = await refusal(
    apply(database, {
      services: [EVENTS, { id: 'billing', name: 'Billing', audience: 'https://billing.example' }],
      clients: [
        { client_id: 'new-one', name: 'New', owner: 'o', grants: [{ service: 'billing', scopes: [] }] },
        { ...VENDOR, expires_at: '2001-01-01T00:00:00Z' },
        { client_id: 'bad-range', name: 'B', owner: 'o', ip_ranges: ['10.0.0.0/33'] },
        { client_id: 'granted', name: 'G', owner: 'o', grants: [{ service: 'xx', scopes: [] }] },
        { client_id: 'scoped', name: 'S', owner: 'o', grants: [{ service: 'events', scopes: ['events:read', 'nope'] }] },
      ],
    }),
  );
  t.same(lines, [
    'clients[1].expires_at: must be in the future',
    'clients[2].ip_ranges[0]: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR',
    'clients[3].grants[0].service: unknown service "xx"',
    'clients[4].grants[0].scopes[1]: service "events" has no scope "nope"',
  ]);
  t.same(await snapshot(database), before, 'nothing of it was applied: not billing, not new-one, no audit event');
});

t.test('the document itself: unknown fields, duplicate ids, wrong types and bad YAML are refused', async (t) => {
  const cases: Array<[unknown, string[]]> = [
    [{ services: [{ ...EVENTS, colour: 'red' }] }, ['services[0].colour: is not a known field']],
    [
      { clients: [{ ...VENDOR, client_secret: 'mine' }] },
      [
        'clients[0].client_secret: a configuration document never holds a secret: Portier makes each client secret and shows it once (at the apply that creates the client, or POST /admin/clients/{client_id}/credentials); remove it',
      ],
    ],
    [{ clients: [{ ...VENDOR, managed: true }] }, ['clients[0].managed: is not a known field']],
    [{ keys: [] }, ['keys: is not a known field']],
    [{ trusted_issuers: [{ ...CLUSTER, managed: true }] }, ['trusted_issuers[0].managed: is not a known field']],
    [{ trusted_issuers: [{ id: 'no-issuer' }] }, ['trusted_issuers[0].issuer: is required']],
    [
      { trusted_issuers: [CLUSTER, { ...CLUSTER, issuer: 'https://other.example' }] },
      ['trusted_issuers[1].id: "prod-cluster" is listed twice (also trusted_issuers[0])'],
    ],
    [{ clients: [{ name: 'no id', owner: 'o' }] }, ['clients[0].client_id: is required']],
    [{ services: [{ ...EVENTS, scopes: 'events:read' }] }, ['services[0].scopes: must be array']],
    [
      { services: [EVENTS, { ...EVENTS, audience: 'https://other.example' }] },
      ['services[1].id: "events" is listed twice (also services[0])'],
    ],
    [['not', 'an', 'object'], ['document: must be object']],
  ];
  for (const [document, expected] of cases) {
    t.same(await refusal(Promise.resolve().then(() => checkDocument(document))), expected, JSON.stringify(document).slice(0, 60));
  }
  for (const [text, pattern] of [
    ['services: [\n  - id: a\n', /^document: is not valid YAML: .*line \d+/],
    ['a: 1\na: 2\n', /^document: is not valid YAML: Map keys must be unique/],
    [
      'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n',
      /Excessive alias count/,
    ],
    ['services: []\n---\nclients: []\n', /multiple documents/],
  ] as const) {
    const [line] = await refusal(Promise.resolve().then(() => parseDocumentText(text, 'yaml')));
    t.match(line, pattern, text.split('\n')[0] ?? '');
  }
  t.same(
    await refusal(Promise.resolve().then(() => checkDocument(parseDocumentText('', 'yaml')))),
    ['document: is empty'],
    'an empty file is not an empty configuration',
  );
  t.same(
    await refusal(Promise.resolve().then(() => parseDocumentText('{"services": [', 'json'))).then((lines) => lines.length),
    1,
    'bad JSON',
  );
  // __proto__ is a key like any other: refused as unknown, and no object's prototype changes.
  t.same(await refusal(Promise.resolve().then(() => checkDocument(parseDocumentText('__proto__:\n  services: []\n', 'yaml')))), [
    '__proto__: is not a known field',
  ]);
  t.equal(({} as Record<string, unknown>).services, undefined);
});

t.test('prune deletes what an earlier apply made and the document dropped, nothing else', async (t) => {
  const database = await prepared(t);
  // Made through the API's functions, not by an apply: never pruned.
  await createService(database.db, { id: 'manual', name: 'Manual', audience: 'https://manual.example' }, CLI_ACTOR);
  await createClient(database.db, { client_id: 'hand-made', name: 'H', owner: 'o' }, CLI_ACTOR, { now: Date.now() });
  await apply(database, { services: [EVENTS, { id: 'old', name: 'Old', audience: 'https://old.example' }], clients: [VENDOR] });

  const withoutPrune = await apply(database, { services: [EVENTS] });
  t.same(withoutPrune.changes, [], 'without prune, what the document leaves out stays');

  const dry = await apply(database, { services: [EVENTS] }, { prune: true, dryRun: true });
  t.same(dry.changes, [
    { op: 'delete', kind: 'client', id: 'vendor', fields: [] },
    { op: 'delete', kind: 'service', id: 'old', fields: [] },
  ]);
  t.equal(dry.applied, false);
  t.equal((await exportConfig(database.db, Date.now())).clients?.length, 2, 'a dry run deletes nothing');

  const pruned = await apply(database, { services: [EVENTS] }, { prune: true });
  t.same(pruned.changes, dry.changes, 'the real apply does what the dry run said');
  const left = await exportConfig(database.db, Date.now());
  t.same(
    left.services?.map((service) => service.id),
    ['events', 'manual'],
    'the hand-made service stays (and portier-admin, never exported)',
  );
  t.same(
    left.clients?.map((client) => client.client_id),
    ['hand-made'],
  );

  // A document that names the built-in service is refused; so is pruning into a conflict.
  t.same(await refusal(apply(database, { services: [{ id: 'portier-admin', name: 'Mine', audience: 'https://x.example' }] })), [
    'services[0].id: "portier-admin" is built in and cannot be configured',
  ]);
  await createClient(
    database.db,
    { client_id: 'user-of-events', name: 'U', owner: 'o', grants: [{ service: 'events', scopes: [] }] },
    CLI_ACTOR,
    { now: Date.now() },
  );
  t.same(await refusal(apply(database, {}, { prune: true })), [
    'services: cannot delete "events": service "events" is still granted to clients: user-of-events',
  ]);
});

t.test('a scope leaves a service in the same apply as the grants that held it', async (t) => {
  const database = await prepared(t);
  await apply(database, {
    services: [EVENTS],
    clients: [{ ...VENDOR, grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }] }],
  });
  const result = await apply(database, {
    services: [{ ...EVENTS, scopes: ['events:read', 'events:admin'] }],
    clients: [{ ...VENDOR, grants: [{ service: 'events', scopes: ['events:read', 'events:admin'] }] }],
  });
  t.same(result.changes, [
    { op: 'update', kind: 'service', id: 'events', fields: ['scopes'] },
    { op: 'update', kind: 'client', id: 'vendor', fields: ['grants'] },
  ]);
  const exported = await exportConfig(database.db, Date.now());
  t.same(exported.services?.find((service) => service.id === 'events')?.scopes, ['events:read', 'events:admin']);
});

t.test('changes are audited with the actor, and the apply as a whole too', async (t) => {
  const database = await prepared(t);
  await apply(database, { services: [EVENTS], clients: [VENDOR] });
  const events = await database.db.select().from(auditEvents).orderBy(auditEvents.id);
  t.same(
    events.map((event) => [event.action, event.actorClientId, event.actorSub]),
    [
      ['service.created', 'pipeline', 'pipeline-sub'],
      ['client.created', 'pipeline', 'pipeline-sub'],
      ['config.applied', 'pipeline', 'pipeline-sub'],
    ],
  );
  t.match(events[1]?.details, { managed: true });
  t.same(events[2]?.details, {
    prune: false,
    changes: [
      { op: 'create', kind: 'service', id: 'events' },
      { op: 'create', kind: 'client', id: 'vendor' },
    ],
  });
  t.notMatch(JSON.stringify(events), /portier_cs_|portier_cred_/, 'no secret in the audit trail');
});

t.test('two applies at once take turns: the second sees what the first made', async (t) => {
  const database = await prepared(t);
  const document = { services: [EVENTS], clients: [VENDOR, { ...VENDOR, client_id: 'vendor-2' }] };
  const [one, two] = await Promise.all([apply(database, document), apply(database, document)]);
  const results = [one, two].sort((a, b) => b.changes.length - a.changes.length);
  t.equal(results[0]?.changes.length, 3, 'one of them made everything');
  t.same(results[1], { applied: true, changes: [], secrets: {} }, 'the other found it made');
  t.equal((await database.db.select().from(clientCredentials)).length, 2, 'one secret per client');
});

t.test('an export applied to a fresh instance exports the same', async (t) => {
  const source = await prepared(t);
  const { publicKey } = await generateKeyPair('EdDSA');
  await createService(source.db, { ...EVENTS, description: 'Happenings\nand more' }, CLI_ACTOR);
  await createService(source.db, { id: 'orders', name: 'Orders', audience: 'urn:example:orders', scopes: [] }, CLI_ACTOR);
  await createClient(
    source.db,
    {
      client_id: 'rich.client_1',
      name: 'Rich: "quoted" – ünïcode',
      owner: 'team-a',
      description: 'yes: no\n- not a list',
      first_name: 'Rich',
      last_name: null,
      roles: ['reader', 'writer'],
      grants: [
        { service: 'orders', scopes: [] },
        { service: 'events', scopes: ['events:write', 'events:read'] },
      ],
      ip_ranges: ['2001:db8::/32', '192.0.2.0/24'],
      expires_at: '2099-06-30T12:00:00Z',
      dpop_bound: true,
    },
    CLI_ACTOR,
    { now: Date.now() },
  );
  await createClient(
    source.db,
    {
      client_id: 'keyed',
      name: 'Keyed',
      owner: 'team-b',
      auth_method: 'private_key_jwt',
      // Members beyond kty, kid, alg and use are allowed (the schema's additionalProperties).
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k' }] } as CreateClientInput['jwks'],
    },
    CLI_ACTOR,
    { now: Date.now() },
  );
  await createClient(
    source.db,
    { client_id: 'remote-keys', name: 'R', owner: 'o', auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/jwks.json' },
    CLI_ACTOR,
    { now: Date.now() },
  );
  // Trusted issuers (one with pasted keys and its settings, one found by discovery with the
  // defaults) and a federated client with an identity of each, one with pinned claims.
  const ci = await platformKey('EdDSA', 'ci-key');
  await createTrustedIssuer(
    source.db,
    {
      id: 'ci-platform',
      issuer: 'https://ci.example/tenant-1',
      jwks: { keys: [ci.publicJwk] } as TrustedIssuerInput['jwks'],
      audience: 'https://portier.example',
      max_token_age: 300,
      algorithms: ['EdDSA', 'ES256'],
    },
    CLI_ACTOR,
  );
  await createTrustedIssuer(source.db, CLUSTER, CLI_ACTOR);
  await createClient(
    source.db,
    {
      ...workload('deployer', 'prod-cluster'),
      federated_identities: [
        { issuer: 'prod-cluster', subject: 'system:serviceaccount:apps:deployer' },
        {
          issuer: 'ci-platform',
          subject: 'repo:example/app:ref:refs/heads/main',
          claims: { '/ref': 'refs/heads/main', workflow: 'deploy' },
        },
      ],
    },
    CLI_ACTOR,
    { now: Date.now() },
  );
  const exported = await exportConfig(source.db, Date.now());
  t.same(
    exported.trusted_issuers?.map((issuer) => issuer.id),
    ['ci-platform', 'prod-cluster'],
  );

  for (const format of ['yaml', 'json'] as const) {
    const { formatDocument } = await import('../../src/config-as-code/document.js');
    const target = await prepared(t);
    const text = formatDocument(exported, format);
    const result = await apply(target, parseDocumentText(text, format));
    t.equal(result.changes.length, 8, `${format}: everything created`);
    t.same(Object.keys(result.secrets).sort(), ['rich.client_1'], `${format}: a secret for the secret client`);
    t.same(await exportConfig(target.db, Date.now()), exported, `${format}: the fresh instance exports the same`);
    t.same((await apply(target, exported as ConfigDocument)).changes, [], `${format}: and the export applied again changes nothing`);
  }
});

t.test('a trusted issuer is made before the federated clients that name it; the same document again changes nothing', async (t) => {
  const database = await prepared(t);
  const key = await platformKey('ES256', 'cluster-key');
  const issuer = {
    ...CLUSTER,
    // x5c is a member Portier does not keep: the stored keys are compared without it.
    jwks: { keys: [{ ...key.publicJwk, x5c: ['MIIB'] }] },
    audience: null,
    max_token_age: 600,
    algorithms: ['ES256', 'RS256'],
  };
  // The client is listed first and names the issuer listed after it: that is fine.
  const document = { clients: [workload('reporter', 'prod-cluster')], trusted_issuers: [issuer] };
  const first = await apply(database, document);
  t.same(first.changes, [
    { op: 'create', kind: 'trusted_issuer', id: 'prod-cluster', fields: ['issuer', 'jwks', 'audience', 'max_token_age', 'algorithms'] },
    { op: 'create', kind: 'client', id: 'reporter', fields: ['name', 'owner', 'auth_method', 'federated_identities'] },
  ]);
  t.same(first.secrets, {}, 'a federated client has no secret');
  const [row] = await database.db.select().from(trustedIssuers).where(eq(trustedIssuers.id, 'prod-cluster'));
  t.equal(row?.managed, true, 'marked managed');
  t.same(row?.jwks, { keys: [key.publicJwk] }, 'the keys kept as public keys with kid, alg and use');

  t.same((await apply(database, document)).changes, [], 'the same document again changes nothing');
  const reordered = { ...document, trusted_issuers: [{ ...issuer, algorithms: ['RS256', 'ES256'] }] };
  t.same((await apply(database, reordered)).changes, [], 'nor the algorithms in another order');
  t.same((await exportConfig(database.db, Date.now())).trusted_issuers, [
    {
      ...CLUSTER,
      jwks_uri: null,
      jwks: { keys: [key.publicJwk] },
      audience: null,
      max_token_age: 600,
      algorithms: ['ES256', 'RS256'],
      token_exchange: false,
      jwt_bearer: false,
    },
  ]);

  const events = await database.db.select().from(auditEvents).orderBy(auditEvents.id);
  t.same(
    events.map((event) => [event.action, event.actorClientId, event.actorSub]),
    [
      ['trusted_issuer.created', 'pipeline', 'pipeline-sub'],
      ['client.created', 'pipeline', 'pipeline-sub'],
      ['config.applied', 'pipeline', 'pipeline-sub'],
    ],
    'audited with the actor',
  );
  t.match(events[0]?.details, { trusted_issuer: 'prod-cluster', managed: true, jwks: { kids: ['cluster-key'] } });
});

t.test('an issuer updated: the fields that differ; from pasted keys to a key set URL', async (t) => {
  const database = await prepared(t);
  const key = await platformKey('RS256');
  await apply(database, { trusted_issuers: [{ ...CLUSTER, jwks: { keys: [key.publicJwk] } }] });
  const moved = { ...CLUSTER, jwks_uri: 'https://oidc.prod.example/keys', max_token_age: 120 };
  const result = await apply(database, { trusted_issuers: [moved] });
  t.same(result.changes, [{ op: 'update', kind: 'trusted_issuer', id: 'prod-cluster', fields: ['jwks_uri', 'max_token_age'] }]);
  t.match((await exportConfig(database.db, Date.now())).trusted_issuers, [{ jwks_uri: moved.jwks_uri, jwks: null, max_token_age: 120 }]);
  t.same((await apply(database, { trusted_issuers: [moved] })).changes, [], 'and again: nothing');
  const [row] = await database.db.select().from(trustedIssuers);
  t.equal(row?.managed, true, 'still managed');
});

t.test('prune: an issuer goes after the clients that used it are deleted or moved; one made otherwise stays', async (t) => {
  const database = await prepared(t);
  await createTrustedIssuer(database.db, { id: 'hand-made', issuer: 'https://hand.example' }, CLI_ACTOR);
  // The hand-made issuer with its defaults spelled out: the same, so no change, and it stays unmanaged.
  const spelledOut = {
    id: 'hand-made',
    issuer: 'https://hand.example',
    jwks_uri: null,
    jwks: null,
    audience: null,
    max_token_age: 3600,
    algorithms: ['Ed25519', 'EdDSA', 'RS256', 'PS256', 'ES384', 'ES256'],
  };
  const OLD = { id: 'old-cluster', issuer: 'https://oidc.old.example' };
  const NEW = { id: 'new-cluster', issuer: 'https://oidc.new.example' };
  const first = await apply(database, {
    trusted_issuers: [OLD, spelledOut],
    clients: [workload('mover', 'old-cluster'), workload('leaver', 'old-cluster')],
  });
  t.same(
    first.changes.map(({ op, id }) => `${op} ${id}`),
    ['create old-cluster', 'create mover', 'create leaver'],
  );

  const next = { trusted_issuers: [NEW], clients: [workload('mover', 'new-cluster')] };
  const dry = await apply(database, next, { prune: true, dryRun: true });
  t.same(dry.changes, [
    { op: 'create', kind: 'trusted_issuer', id: 'new-cluster', fields: ['issuer'] },
    { op: 'update', kind: 'client', id: 'mover', fields: ['federated_identities'] },
    { op: 'delete', kind: 'client', id: 'leaver', fields: [] },
    { op: 'delete', kind: 'trusted_issuer', id: 'old-cluster', fields: [] },
  ]);
  const pruned = await apply(database, next, { prune: true });
  t.same(pruned.changes, dry.changes, 'the real apply does what the dry run said');
  const left = await exportConfig(database.db, Date.now());
  t.same(
    left.trusted_issuers?.map((issuer) => issuer.id),
    ['hand-made', 'new-cluster'],
    'the hand-made issuer stays',
  );
  const rows = await database.db.select({ id: trustedIssuers.id, managed: trustedIssuers.managed }).from(trustedIssuers);
  t.same(Object.fromEntries(rows.map((row) => [row.id, row.managed])), { 'hand-made': false, 'new-cluster': true });

  // Pruning an issuer that a client made otherwise still uses: refused, naming the client; nothing changes.
  await createClient(database.db, workload('by-hand', 'new-cluster'), CLI_ACTOR, { now: Date.now() });
  const before = await snapshot(database);
  t.same(await refusal(apply(database, { clients: [workload('mover', 'hand-made')] }, { prune: true })), [
    'trusted_issuers: cannot delete "new-cluster": trusted issuer "new-cluster" is still used by clients: by-hand',
  ]);
  t.same(await snapshot(database), before, 'the mover was not moved either');
});

t.test('a new id with the issuer URL or audience of the object it replaces: refused at its place, nothing applied', async (t) => {
  const database = await prepared(t);
  await apply(database, { services: [EVENTS], trusted_issuers: [CLUSTER], clients: [VENDOR, workload('runner', 'prod-cluster')] });
  const before = await snapshot(database);
  const renamed = {
    services: [{ ...EVENTS, id: 'events-v2' }],
    trusted_issuers: [{ ...CLUSTER, id: 'prod' }],
    clients: [{ ...VENDOR, grants: [{ service: 'events-v2', scopes: ['events:read'] }] }, workload('runner', 'prod')],
  };
  const errors = await refusal(apply(database, renamed, { prune: true }));
  t.ok(errors.includes('services[0]: another service already has the audience "https://events.example"'), 'the service, at its place');
  t.ok(
    errors.includes('trusted_issuers[0]: another trusted issuer already has the issuer "https://oidc.prod.example"'),
    'the trusted issuer, at its place',
  );
  t.same(await snapshot(database), before, 'nothing applied');
});

t.test('errors in trusted issuers and in the identities naming them: named by their place, nothing applied', async (t) => {
  const database = await prepared(t);
  await apply(database, { trusted_issuers: [CLUSTER] });
  const before = await snapshot(database);
  const key = await platformKey('RS256');
  const privateJwk = { ...key.publicJwk, d: 'c2VjcmV0' };
  const lines = await refusal(
    apply(database, {
      clients: [workload('fine', 'later-one'), workload('lost', 'nowhere')],
      trusted_issuers: [
        { ...CLUSTER, jwks: { keys: [key.publicJwk] }, jwks_uri: 'https://oidc.prod.example/keys' },
        { id: 'queried', issuer: 'https://ci.example/?tenant=1' },
        { id: 'same-issuer', issuer: CLUSTER.issuer },
        { id: 'leaky', issuer: 'https://leaky.example', jwks: { keys: [privateJwk] } },
        { id: 'later-one', issuer: 'https://later.example' },
      ],
    }),
  );
  t.same(lines, [
    'trusted_issuers[0].jwks_uri: give either jwks or jwks_uri (or neither, for discovery), not both',
    'trusted_issuers[1].issuer: must not contain a query',
    'trusted_issuers[2]: another trusted issuer already has the issuer "https://oidc.prod.example"',
    'trusted_issuers[3].jwks.keys[0]: must be a public key: private or symmetric key material is refused',
    'clients[1].federated_identities[0].issuer: unknown trusted issuer "nowhere"',
  ]);
  t.same(await snapshot(database), before, 'nothing of it was applied');
});
