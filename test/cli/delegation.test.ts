import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { addService, createTestDatabase, runCli, type TestLike } from '../helpers.js';

// The delegation fields on the command line and in configuration documents: a grant's
// `exchange`, a client's `may_act`, a trusted issuer's `token_exchange` and `jwt_bearer`.

async function cli(t: TestLike) {
  const { database } = await createTestDatabase(t);
  const portier = (...args: string[]) => runCli(database, args);
  const migrated = await portier('migrate');
  if (migrated.code !== 0) throw new Error(migrated.stderr);
  await addService(database, { id: 'ledger', audience: 'https://ledger.example', scopes: ['ledger:read'] });
  return portier;
}

t.test('clients: --exchange gives a grant its subjects, --may-act names the actors', async (t) => {
  const portier = await cli(t);
  const created = await portier(
    'clients',
    'create',
    '--client-id',
    'orders-svc',
    '--name',
    'Orders',
    '--owner',
    'team',
    '--grant',
    'ledger:ledger:read',
    '--exchange',
    'ledger:vendor-eaglebe,issuer:corp-entra',
    '--may-act',
    'gateway',
  );
  t.equal(created.code, 0, created.stderr);
  // The client's JSON, then its secret on a line of its own.
  t.match(JSON.parse(created.stdout.slice(0, created.stdout.lastIndexOf('}') + 1)), {
    grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['vendor-eaglebe', 'issuer:corp-entra'] } }],
    may_act: ['gateway'],
  });
  const cleared = await portier('clients', 'update', 'orders-svc', '--may-act', 'none');
  t.equal(JSON.parse(cleared.stdout).may_act, null, '--may-act none clears it');
  const orphan = await portier('clients', 'update', 'orders-svc', '--exchange', 'ledger:*');
  t.not(orphan.code, 0, 'an --exchange without the --grant of its service is a usage error');
  t.match(orphan.stderr, /--grant/);

  // Grants are given whole: an update that repeats --exchange keeps the actors only if given.
  const withActors = await portier(
    'clients',
    'update',
    'orders-svc',
    '--grant',
    'ledger:ledger:read',
    '--exchange',
    'ledger:vendor-eaglebe',
    '--exchange-actors',
    'ledger:gateway,edge-proxy',
  );
  t.equal(withActors.code, 0, withActors.stderr);
  t.same(JSON.parse(withActors.stdout).grants[0].exchange, { subjects: ['vendor-eaglebe'], actors: ['gateway', 'edge-proxy'] });
  const actorsAlone = await portier(
    'clients',
    'update',
    'orders-svc',
    '--grant',
    'ledger:ledger:read',
    '--exchange-actors',
    'ledger:gateway',
  );
  t.not(actorsAlone.code, 0, 'actors without the --exchange of their service are a usage error');
  t.match(actorsAlone.stderr, /--exchange-actors ledger: give the --exchange/);
});

t.test('issuers: --token-exchange and --jwt-bearer, and back', async (t) => {
  const portier = await cli(t);
  const created = await portier('issuers', 'create', '--id', 'corp-entra', '--issuer', 'https://login.corp.example', '--token-exchange');
  t.equal(created.code, 0, created.stderr);
  t.match(JSON.parse(created.stdout), { token_exchange: true, jwt_bearer: false });
  const updated = await portier('issuers', 'update', 'corp-entra', '--no-token-exchange', '--jwt-bearer');
  t.match(JSON.parse(updated.stdout), { token_exchange: false, jwt_bearer: true });
});

t.test('configuration as code carries them, and the same document again changes nothing', async (t) => {
  const portier = await cli(t);
  const dir = mkdtempSync(join(tmpdir(), 'portier-delegation-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'portier.json');
  const document = {
    trusted_issuers: [{ id: 'corp-entra', issuer: 'https://login.corp.example', token_exchange: true, jwt_bearer: true }],
    clients: [
      {
        client_id: 'vendor-eaglebe',
        name: 'Vendor',
        owner: 'partners',
        grants: [{ service: 'ledger', scopes: ['ledger:read'] }],
        may_act: ['orders-svc'],
      },
      {
        client_id: 'orders-svc',
        name: 'Orders',
        owner: 'team',
        grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['vendor-eaglebe', 'issuer:corp-entra'] } }],
      },
    ],
  };
  writeFileSync(file, JSON.stringify(document));
  const applied = await portier('config', 'apply', '--file', file, '--secrets-out', join(dir, 'secrets.json'));
  t.equal(applied.code, 0, applied.stderr);
  const orders = JSON.parse((await portier('clients', 'get', 'orders-svc')).stdout);
  t.same(orders.grants[0].exchange, { subjects: ['vendor-eaglebe', 'issuer:corp-entra'] });
  t.same(JSON.parse((await portier('clients', 'get', 'vendor-eaglebe')).stdout).may_act, ['orders-svc']);
  t.match(JSON.parse((await portier('issuers', 'get', 'corp-entra')).stdout), { token_exchange: true, jwt_bearer: true });
  const again = await portier('config', 'apply', '--file', file, '--secrets-out', join(dir, 'secrets.json'));
  t.match(again.stderr, /applied: 0 created, 0 updated, 0 deleted/, 'nothing changes the second time');

  // A narrower exchange is an update of the grant.
  const narrower = structuredClone(document);
  const grant = narrower.clients[1]?.grants[0] as { exchange?: { subjects: string[] } } | undefined;
  if (grant !== undefined) grant.exchange = { subjects: ['vendor-eaglebe'] };
  writeFileSync(file, JSON.stringify(narrower));
  const changed = await portier('config', 'apply', '--file', file, '--secrets-out', join(dir, 'secrets.json'));
  t.match(changed.stderr, /applied: 0 created, 1 updated, 0 deleted/, changed.stderr);
  const exported = await portier('config', 'export', '--format', 'json');
  t.match(JSON.parse(exported.stdout).clients, [{ client_id: 'orders-svc', grants: [{ exchange: { subjects: ['vendor-eaglebe'] } }] }, {}]);
});
