import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { basicAuth, build, createTestDatabase, postToken, runCli } from '../helpers.js';

// `portier config export|apply` on the database the environment names: files in and out,
// the secrets file (mode 0600) or the secrets printed once, dry run and prune, and errors
// as one line per place with exit 1.

const DOCUMENT = `services:
  - id: events
    name: Events
    audience: https://events.example
    scopes: [events:read]
trusted_issuers:
  - id: ci-platform
    issuer: https://ci.example
    jwks_uri: https://ci.example/jwks
clients:
  - client_id: vendor-one
    name: Vendor one
    owner: team-a
    grants: [{service: events, scopes: [events:read]}]
  - client_id: vendor-two
    name: Vendor two
    owner: team-a
`;

async function environment(t: Test) {
  const { database } = await createTestDatabase(t);
  const portier = (...args: string[]) => runCli(database, args);
  const migrated = await portier('migrate');
  t.equal(migrated.code, 0, migrated.stderr);
  const dir = t.testdir();
  return { database, portier, dir };
}

t.test('apply with --secrets-out: the secrets in a 0600 file, not on the terminal; export gives it back', async (t) => {
  const { database, portier, dir } = await environment(t);
  const file = join(dir, 'portier.yaml');
  writeFileSync(file, DOCUMENT);
  const secretsFile = join(dir, 'secrets.json');
  writeFileSync(secretsFile, 'old content', { mode: 0o644 });

  const dry = await portier('config', 'apply', '--file', file, '--dry-run', '--secrets-out', secretsFile);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stderr, /dry run, nothing changed; would be: 4 created, 0 updated, 0 deleted/);
  t.equal(readFileSync(secretsFile, 'utf8'), 'old content', 'a dry run leaves the secrets file alone');

  const applied = await portier('config', 'apply', '--file', file, '--secrets-out', secretsFile);
  t.equal(applied.code, 0, applied.stderr);
  t.match(applied.stderr, /applied: 4 created, 0 updated, 0 deleted/);
  t.match(applied.stderr, /written to .*secrets\.json \(mode 0600\)/);
  t.notMatch(applied.stdout, /portier_cs_|portier_cred_/, 'no secret on standard output');
  t.equal(JSON.parse(applied.stdout).changes.length, 4);
  t.equal(statSync(secretsFile).mode & 0o777, 0o600, 'the file is readable by its owner only');
  const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>;
  t.same(Object.keys(secrets).sort(), ['vendor-one', 'vendor-two']);

  const server = await build(t, { database });
  const token = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth('vendor-one', secrets['vendor-one'] ?? '') },
  );
  t.equal(token.statusCode, 200, 'the secret in the file works');

  const again = await portier('config', 'apply', '--file', file, '--secrets-out', secretsFile);
  t.match(again.stderr, /applied: 0 created, 0 updated, 0 deleted/);
  t.same(JSON.parse(readFileSync(secretsFile, 'utf8')), {}, 'no secret made the second time');

  const exported = await portier('config', 'export');
  t.equal(exported.code, 0);
  const document = parseYaml(exported.stdout) as {
    services: unknown[];
    trusted_issuers: Array<{ id: string }>;
    clients: Array<{ client_id: string }>;
  };
  t.same(
    document.clients.map((client) => client.client_id),
    ['vendor-one', 'vendor-two'],
  );
  t.same(
    document.trusted_issuers.map((issuer) => issuer.id),
    ['ci-platform'],
  );
  const out = join(dir, 'export.json');
  const toFile = await portier('config', 'export', '--format', 'json', '--out', out);
  t.match(toFile.stderr, /wrote 1 service\(s\), 1 trusted issuer\(s\) and 2 client\(s\)/);
  t.same(JSON.parse(readFileSync(out, 'utf8')), document, 'JSON and YAML exports say the same');
  const fromJson = await portier('config', 'apply', '--file', out);
  t.same(JSON.parse(fromJson.stdout), { applied: true, changes: [], secrets: {} }, 'a .json file is read as JSON');
});

t.test('without --secrets-out the secrets are printed once; --prune deletes what the file dropped', async (t) => {
  const { portier, dir } = await environment(t);
  const file = join(dir, 'portier.yml');
  writeFileSync(file, DOCUMENT);
  const applied = await portier('config', 'apply', '--file', file);
  const result = JSON.parse(applied.stdout) as { secrets: Record<string, string> };
  t.match(result.secrets['vendor-one'], /^portier_cred_/);
  t.match(applied.stderr, /shown this once/);

  writeFileSync(file, DOCUMENT.slice(0, DOCUMENT.indexOf('  - client_id: vendor-two')));
  const kept = await portier('config', 'apply', '--file', file);
  t.same(JSON.parse(kept.stdout).changes, [], 'without --prune, vendor-two stays');
  const pruned = await portier('config', 'apply', '--file', file, '--prune');
  t.same(JSON.parse(pruned.stdout).changes, [{ op: 'delete', kind: 'client', id: 'vendor-two', fields: [] }]);
});

t.test('errors: one line per place, exit 1, nothing applied; a secrets file that cannot be written stops it first', async (t) => {
  const { portier, dir } = await environment(t);
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `clients:
  - client_id: vendor-one
    name: V
    owner: o
    grants: [{service: nowhere, scopes: []}]
  - client_id: vendor-two
    name: V
    owner: o
    colour: red
`,
  );
  const refused = await portier('config', 'apply', '--file', file);
  t.equal(refused.code, 1);
  t.equal(refused.stderr, 'portier: clients[1].colour: is not a known field\n');
  writeFileSync(file, 'clients:\n  - {client_id: vendor-one, name: V, owner: o, grants: [{service: nowhere, scopes: []}]}\n');
  const unknown = await portier('config', 'apply', '--file', file);
  t.equal(unknown.stderr, 'portier: clients[0].grants[0].service: unknown service "nowhere"\n');

  const good = join(dir, 'good.yaml');
  writeFileSync(good, DOCUMENT);
  const unwritable = await portier('config', 'apply', '--file', good, '--secrets-out', join(dir, 'no-such-dir', 'secrets.json'));
  t.equal(unwritable.code, 1);
  t.match(unwritable.stderr, /cannot write .*secrets\.json \(ENOENT\)/);
  const exported = parseYaml((await portier('config', 'export')).stdout) as { services: unknown[] };
  t.same(exported.services, [], 'nothing was applied');

  for (const [args, message] of [
    [['config', 'apply'], /needs --file/],
    [['config', 'apply', '--file', join(dir, 'missing.yaml')], /cannot read .*missing\.yaml \(ENOENT\)/],
    [['config', 'export', '--format', 'xml'], /--format must be yaml or json/],
    [['config', 'frobnicate'], /unknown config command/],
  ] as const) {
    const failed = await portier(...args);
    t.equal(failed.code, 1, args.join(' '));
    t.match(failed.stderr, message);
  }
});
