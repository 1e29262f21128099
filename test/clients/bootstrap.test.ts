import { eq } from 'drizzle-orm';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { bootstrapSecretWarning, charactersUnsafeForBasic, ensureBootstrapAdmin } from '../../src/clients/bootstrap.js';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/connect.js';
import { clientCredentials, clientGrants, clients } from '../../src/db/schema.js';
import { prepareDatabase } from '../../src/prepare.js';
import {
  basicAuth,
  build,
  captureLogs,
  createTestDatabase,
  ISSUER,
  postToken,
  refusalReasons,
  type TestServer,
  testConfig,
} from '../helpers.js';

// The bootstrap admin client (BOOTSTRAP_ADMIN_CLIENT_ID/SECRET): created, kept in line with
// the configuration at every start, never overruling an admin's decision.

const ADMIN_AUDIENCE = `${ISSUER}/admin`;

async function publishedJwks(server: TestServer): Promise<{ keys: JWK[] }> {
  const response = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return response.json() as { keys: JWK[] };
}

async function verifyAgainstJwks(server: TestServer, token: string, audience: string) {
  return jwtVerify(token, createLocalJWKSet(await publishedJwks(server)), { issuer: ISSUER, audience, typ: 'at+jwt' });
}

// The bootstrap admin client

const AWKWARD_SECRETS = [
  'p@ss word:with%25+plus&=/?#"\'\\',
  '%%%%%%%%%%%%%%%%',
  '%3A%2F%25%2B not decoded twice',
  '+plus+signs+are+not+spaces+',
  '   spaces around the secret   ',
  'a:b:c:d:e:f:g:h:i:j',
  '~!@#$%^&*()_+{}|:"<>?[]\\;\',./`-=',
  'Basic dXNlcjpwYXNz==',
];

function bootstrapConfig(clientSecret: string): Partial<Config> {
  return { bootstrapAdmin: { clientId: 'root-admin', clientSecret } };
}

async function bootstrapState(database: Database) {
  const rows = await database.db.select().from(clients).where(eq(clients.clientId, 'root-admin'));
  const client = rows[0];
  const secrets = client ? await database.db.select().from(clientCredentials).where(eq(clientCredentials.clientUuid, client.id)) : [];
  const grants = client ? await database.db.select().from(clientGrants).where(eq(clientGrants.clientUuid, client.id)) : [];
  return { rows, client, secrets, grants };
}

function outcomes(logs: ReturnType<typeof captureLogs>): unknown[] {
  return logs
    .lines()
    .filter((line) => line.msg === 'bootstrap admin client checked')
    .map((line) => line.outcome);
}

/** Asks for an admin token with the secret, by Basic and by post, and checks what comes back. */
async function adminTokenWorks(t: Test, server: TestServer, clientSecret: string, label: string) {
  const basic = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('root-admin', clientSecret) });
  t.equal(basic.statusCode, 200, `${label}: client_secret_basic works${basic.statusCode === 200 ? '' : ` (${basic.body})`}`);
  const post = await postToken(server.app, { grant_type: 'client_credentials', client_id: 'root-admin', client_secret: clientSecret });
  t.equal(post.statusCode, 200, `${label}: client_secret_post works${post.statusCode === 200 ? '' : ` (${post.body})`}`);
  for (const response of [basic, post]) {
    if (response.statusCode !== 200) continue;
    const body = response.json() as { access_token: string; scope: string; token_type: string };
    const { payload } = await verifyAgainstJwks(server, body.access_token, ADMIN_AUDIENCE);
    t.equal(payload.aud, ADMIN_AUDIENCE, `${label}: a token for the admin API`);
    t.equal(payload.client_id, 'root-admin');
    t.strictSame(String(payload.scope).split(' ').sort(), ['admin:read', 'admin:write'], `${label}: both admin scopes`);
    t.equal(payload.iss, ISSUER);
    t.equal(payload.preferred_username, 'service-account-root-admin');
  }
}

async function adminTokenRefused(t: Test, server: TestServer, clientSecret: string, label: string) {
  const basic = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('root-admin', clientSecret) });
  t.equal(basic.statusCode, 401, `${label}: refused by Basic`);
  t.equal((basic.json() as { error: string }).error, 'invalid_client');
  const post = await postToken(server.app, { grant_type: 'client_credentials', client_id: 'root-admin', client_secret: clientSecret });
  t.equal(post.statusCode, 400, `${label}: refused by post (400: no Authorization header was sent)`);
  t.equal((post.json() as { error: string }).error, 'invalid_client');
}

t.test('the bootstrap admin client', async (t) => {
  const [firstSecret, ...otherSecrets] = AWKWARD_SECRETS as [string, ...string[]];
  // The first start, on an empty database, creates it.
  const server = await build(t, { config: bootstrapConfig(firstSecret) });
  const { database } = server;

  const created = await bootstrapState(database);
  t.equal(created.rows.length, 1, 'one client row');
  t.equal(created.secrets.length, 1, 'one secret');
  t.match(created.secrets[0]?.hash, /^\$argon2id\$/, 'stored as an argon2id hash');
  t.notOk(created.secrets[0]?.hash?.includes(firstSecret), 'not in clear');
  t.strictSame(
    created.grants.map((grant) => ({ service: grant.serviceId, scopes: [...grant.scopes].sort() })),
    [{ service: 'portier-admin', scopes: ['admin:read', 'admin:write'] }],
    'granted portier-admin with admin:read and admin:write',
  );
  t.equal(created.client?.enabled, true);
  t.equal(created.client?.createdBy, 'bootstrap', 'created by the bootstrap actor');
  t.equal(
    await ensureBootstrapAdmin(database.db, 'other-admin', 'another-long-secret', Date.now()),
    'created',
    'ensureBootstrapAdmin says created for a new one',
  );

  const again = captureLogs('info');
  await prepareDatabase(database, testConfig(bootstrapConfig(firstSecret)), again.logger);
  await prepareDatabase(database, testConfig(bootstrapConfig(firstSecret)), again.logger);
  t.strictSame(outcomes(again), ['unchanged', 'unchanged'], 'starting again changes nothing');
  t.equal(
    await ensureBootstrapAdmin(database.db, 'root-admin', firstSecret, Date.now()),
    'unchanged',
    'ensureBootstrapAdmin says unchanged',
  );
  const unchanged = await bootstrapState(database);
  t.equal(unchanged.rows.length, 1, 'no duplicate client');
  t.equal(unchanged.client?.id, created.client?.id, 'the same client (same service-account id)');
  t.strictSame(
    unchanged.secrets.map((s) => s.id),
    created.secrets.map((s) => s.id),
    'the same secret row',
  );
  t.equal(unchanged.grants.length, 1, 'no duplicate grant');

  await adminTokenWorks(t, server, firstSecret, JSON.stringify(firstSecret));
  const explicit = await postToken(
    server.app,
    { grant_type: 'client_credentials', resource: ADMIN_AUDIENCE, scope: 'admin:read' },
    { authorization: basicAuth('root-admin', firstSecret) },
  );
  t.equal(explicit.statusCode, 200, 'resource and a narrower scope');
  t.equal((explicit.json() as { scope: string }).scope, 'admin:read');
  await adminTokenRefused(t, server, `${firstSecret}x`, 'a wrong secret');

  let previous = firstSecret;
  for (const secret of otherSecrets) {
    await t.test(`the secret changes to ${JSON.stringify(secret)}`, async (t) => {
      const changed = captureLogs('info');
      await prepareDatabase(database, testConfig(bootstrapConfig(secret)), changed.logger);
      t.strictSame(outcomes(changed), ['updated'], 'updated');
      server.app.portier.generation.changed();
      const state = await bootstrapState(database);
      t.equal(state.rows.length, 1, 'still one client');
      t.equal(state.client?.id, created.client?.id, 'the same client');
      t.equal(state.secrets.length, 1, 'the new secret replaced the old one');
      await adminTokenWorks(t, server, secret, 'the new secret');
      await adminTokenRefused(t, server, previous, 'the old secret');
      previous = secret;
    });
  }

  await t.test('a lost admin grant is restored', async (t) => {
    const state = await bootstrapState(database);
    await database.db.delete(clientGrants).where(eq(clientGrants.clientUuid, state.client?.id ?? ''));
    t.equal(await ensureBootstrapAdmin(database.db, 'root-admin', previous, Date.now()), 'updated');
    const restored = await bootstrapState(database);
    t.strictSame(
      restored.grants.map((grant) => ({ service: grant.serviceId, scopes: [...grant.scopes].sort() })),
      [{ service: 'portier-admin', scopes: ['admin:read', 'admin:write'] }],
    );
    t.strictSame(
      restored.secrets.map((s) => s.id),
      state.secrets.map((s) => s.id),
      'the secret was left alone',
    );
  });

  await t.test('an admin who disabled the bootstrap client on purpose is not overruled', async (t) => {
    const state = await bootstrapState(database);
    await database.db
      .update(clients)
      .set({ enabled: false })
      .where(eq(clients.id, state.client?.id ?? ''));
    await prepareDatabase(database, testConfig(bootstrapConfig(previous)));
    t.equal((await bootstrapState(database)).client?.enabled, false, 'still disabled');
    server.app.portier.generation.changed();
    await adminTokenRefused(t, server, previous, 'the disabled bootstrap client');
  });
});

// A secret that clients mishandle over HTTP Basic

t.test('which characters of a secret clients mishandle over HTTP Basic', async (t) => {
  t.same(charactersUnsafeForBasic('Az09-._~'), [], "RFC 3986's unreserved characters are safe");
  t.same(charactersUnsafeForBasic('a+b/c:d%e f+'), ['+', '/', ':', '%', ' '], 'each unsafe character once, in order');
  t.equal(bootstrapSecretWarning('portier_cs_generated-secret.0~9'), undefined, 'no warning for a safe secret');
  const warning = bootstrapSecretWarning('p@ss word');
  t.match(warning, /BOOTSTRAP_ADMIN_CLIENT_SECRET/, 'the warning names the variable');
  t.match(warning, /"@", space/, 'and the characters');
  t.match(warning, /Authlib.*requests-oauthlib.*google-oauth-client.*curl -u/, 'and the clients that mishandle them');
  t.match(warning, /client_secret_post/, 'and what to do');
  t.notMatch(warning, /p@ss word/, 'but never the secret');
});

t.test('a start with such a bootstrap secret warns once; a safe one does not', async (t) => {
  for (const [secret, warns] of [
    ['needs+encoding/over:basic', true],
    ['safe-secret_0123456789.abc~', false],
  ] as const) {
    const logs = captureLogs('info');
    const { database } = await createTestDatabase(t);
    await prepareDatabase(database, testConfig({ bootstrapAdmin: { clientId: 'root-admin', clientSecret: secret } }), logs.logger);
    const warnings = logs.lines().filter((line) => String(line.msg).startsWith('BOOTSTRAP_ADMIN_CLIENT_SECRET contains'));
    t.equal(warnings.length, warns ? 1 : 0, `${secret}: ${warns ? 'one warning' : 'no warning'}`);
    t.notMatch(logs.text(), secret, 'the secret is not in the log');
  }
});

/** What a client that skips RFC 6749's form-encoding sends over Basic: id and secret as they are. */
const unencodedBasic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;

t.test("a '+' secret sent over Basic without form-encoding: refused, with a hint in the log that names neither secret", async (t) => {
  const secret = 'plus+in+the+bootstrap+secret';
  const logs = captureLogs('info');
  const server = await build(t, { logger: logs.logger, config: bootstrapConfig(secret) });
  const [stored] = (await bootstrapState(server.database)).secrets;
  t.equal(stored?.containsPlus, true, 'the stored secret is known to contain +');

  const mangled = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: unencodedBasic('root-admin', secret) },
  );
  t.equal(mangled.statusCode, 401, 'the + arrives as a space: refused');
  const wrongWithSpace = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('root-admin', 'some other secret') },
  );
  t.equal(wrongWithSpace.statusCode, 401);
  const viaPost = await postToken(server.app, {
    grant_type: 'client_credentials',
    client_id: 'root-admin',
    client_secret: 'plus in the post',
  });
  t.equal(viaPost.statusCode, 400, 'in the body: invalid_client as a 400');
  t.equal(mangled.body, viaPost.body, 'the caller learns nothing from the hint');

  // The second hint repeats the first within a second: counted in a closing line, so last.
  const reasons = await refusalReasons(logs);
  t.equal(reasons.length, 3);
  t.match(reasons[0], /^wrong secret; hint: .*HTTP Basic with a space.*contains '\+'.*client_secret_post/, 'the mangled secret: a hint');
  t.equal(reasons[1], 'wrong secret', 'client_secret_post: no hint (a form body is always encoded)');
  t.match(reasons[2], /hint/, 'any failed Basic secret with a space, for a client whose secret has a +');
  const text = logs.text();
  for (const shown of [secret, secret.replace(/\+/g, ' '), 'some other secret', 'plus in the post']) {
    t.notOk(text.includes(shown), `${JSON.stringify(shown)} is not in the log`);
  }
  await adminTokenWorks(t, server, secret, 'form-encoded, the same secret');
});

t.test('no hint for a client whose secrets have no +, nor for a secret without a space', async (t) => {
  const logs = captureLogs('info');
  const server = await build(t, { logger: logs.logger, config: bootstrapConfig('no-plus-in-this-secret') });
  t.equal((await bootstrapState(server.database)).secrets[0]?.containsPlus, false);
  await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('root-admin', 'a secret with spaces') });
  const plus = await build(t, { logger: logs.logger, config: bootstrapConfig('plus+secret+here+0123') });
  await postToken(plus.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('root-admin', 'no-space-at-all') });
  t.same(await refusalReasons(logs), ['wrong secret', 'wrong secret']);
});

t.test('a bootstrap secret stored before contains_plus existed learns it at the next start', async (t) => {
  const { database } = await createTestDatabase(t);
  const secret = 'learns+its+plus+at+start';
  await prepareDatabase(database, testConfig(bootstrapConfig(secret)));
  await database.db.update(clientCredentials).set({ containsPlus: false });
  await prepareDatabase(database, testConfig(bootstrapConfig(secret)));
  t.same(
    (await bootstrapState(database)).secrets.map((row) => row.containsPlus),
    [true],
  );
});
