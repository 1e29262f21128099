import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import t from 'tap';
import { createTestDatabase, runCli, type TestLike } from '../helpers.js';

// `portier issuers list|get|create|update|delete` and `portier clients create|update
// --auth-method federated --federated-identity …`, in this process on the test's database.

async function cli(t: TestLike) {
  const { database } = await createTestDatabase(t);
  const portier = (...args: string[]) => runCli(database, args);
  const migrated = await portier('migrate');
  if (migrated.code !== 0) throw new Error(migrated.stderr);
  return portier;
}

t.test('issuers: create, list, get, update and delete, with the API’s rules', async (t) => {
  const portier = await cli(t);
  const created = await portier(
    'issuers',
    'create',
    '--id',
    'github',
    '--issuer',
    'https://token.actions.githubusercontent.com',
    '--audience',
    'https://portier.example',
    '--max-token-age',
    '600',
    '--algorithm',
    'RS256',
  );
  t.equal(created.code, 0, created.stderr);
  t.match(JSON.parse(created.stdout), { id: 'github', jwks_uri: null, jwks: null, max_token_age: 600, algorithms: ['RS256'] });

  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const folder = mkdtempSync(join(tmpdir(), 'portier-issuers-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const jwksFile = join(folder, 'cluster.jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'sa-key' }] }));
  const cluster = await portier('issuers', 'create', '--id', 'prod-cluster', '--issuer', 'https://oidc.prod.example', '--jwks', jwksFile);
  t.equal(cluster.code, 0, cluster.stderr);
  t.equal(JSON.parse(cluster.stdout).jwks.keys[0].kid, 'sa-key', 'keys read from a file');

  const list = await portier('issuers', 'list');
  t.same(
    (JSON.parse(list.stdout) as { items: Array<{ id: string }> }).items.map((item) => item.id),
    ['github', 'prod-cluster'],
  );
  t.equal(JSON.parse((await portier('issuers', 'get', 'github')).stdout).audience, 'https://portier.example');
  const updated = await portier('issuers', 'update', 'github', '--audience', 'none', '--max-token-age', '3600');
  t.equal(updated.code, 0, updated.stderr);
  t.match(JSON.parse(updated.stdout), { audience: null, max_token_age: 3600 });

  const tooOld = await portier('issuers', 'create', '--id', 'bad', '--issuer', 'https://bad.example', '--max-token-age', '100000');
  t.equal(tooOld.code, 1, 'max_token_age out of range: exit 1');
  t.match(tooOld.stderr, /\/max_token_age/, 'naming the field');
  const hmac = await portier('issuers', 'create', '--id', 'bad', '--issuer', 'https://bad.example', '--algorithm', 'HS256');
  t.match(hmac.stderr, /\/algorithms\/0/, 'HS256 refused');

  const client = await portier(
    'clients',
    'create',
    '--name',
    'Reporter',
    '--owner',
    'payments',
    '--client-id',
    'reporter',
    '--auth-method',
    'federated',
    '--federated-identity',
    'prod-cluster:system:serviceaccount:payments:reporter',
    '--federated-identity',
    '{"issuer":"github","subject":"repo:acme/billing:ref:refs/heads/main","claims":{"repository_owner":"acme"}}',
  );
  t.equal(client.code, 0, client.stderr);
  t.notMatch(client.stderr, /client_secret/, 'no secret printed');
  t.same(JSON.parse(client.stdout).federated_identities, [
    { issuer: 'github', subject: 'repo:acme/billing:ref:refs/heads/main', claims: { repository_owner: 'acme' } },
    { issuer: 'prod-cluster', subject: 'system:serviceaccount:payments:reporter', claims: {} },
  ]);

  const inUse = await portier('issuers', 'delete', 'prod-cluster');
  t.equal(inUse.code, 1, 'an issuer in use cannot be deleted');
  t.match(inUse.stderr, /still used by clients: reporter/);

  const replaced = await portier('clients', 'update', 'reporter', '--federated-identity', 'github:repo:acme/billing:environment:prod');
  t.equal(replaced.code, 0, replaced.stderr);
  t.same(JSON.parse(replaced.stdout).federated_identities, [
    { issuer: 'github', subject: 'repo:acme/billing:environment:prod', claims: {} },
  ]);
  t.equal((await portier('issuers', 'delete', 'prod-cluster')).code, 0, 'no longer used: deleted');

  const noColon = await portier('clients', 'update', 'reporter', '--federated-identity', 'github');
  t.match(noColon.stderr, /is not ISSUER_ID:SUBJECT/);
  const badJson = await portier('clients', 'update', 'reporter', '--federated-identity', '{"issuer":');
  t.match(badJson.stderr, /not JSON/);
  t.match((await portier('issuers', 'frobnicate')).stderr, /unknown issuers command/);
});
