import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { parseCommandLine } from '../src/cli/options.js';
import { connectDatabase, type Database } from '../src/db/connect.js';
import { basicAuth, build, createTestDatabase, postToken, runCli, seededDataDir, type TestLike } from './helpers.js';

const run = promisify(execFile);

/**
 * The CLI in this process: main() with the test's database and the output captured.
 * Resolves with what it printed on exit 0, rejects with the exit code and what it
 * printed otherwise, as a real process run by execFile would.
 */
function inProcess(database: Database) {
  return async (...args: string[]): Promise<{ stdout: string; stderr: string }> => {
    const { code, stdout, stderr } = await runCli(database, args);
    if (code !== 0) throw Object.assign(new Error(`portier ${args.join(' ')}: exit ${code}`), { code, stdout, stderr });
    return { stdout, stderr };
  };
}

/** A database prepared as an operator's first step (`portier migrate`) would, and the CLI on it. */
async function cliEnvironment(t: TestLike) {
  const { database } = await createTestDatabase(t);
  const portier = inProcess(database);
  await portier('migrate');
  return { portier, open: async () => database };
}

/** `portier services create` for the service most tests grant. */
const EVENTS_SERVICE = [
  'services',
  'create',
  '--id',
  'events',
  '--name',
  'Events',
  '--audience',
  'https://events.example',
  '--scope',
  'events:read',
];

/** The real command, as an operator runs it: a separate process. */
function portierProcess(env: Record<string, string>, ...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: { PATH: process.env.PATH, ISSUER: 'http://portier.test', LOG_LEVEL: 'warn', ...env },
  });
}

t.test('create a service and a client, then the client gets a token', async (t) => {
  const { portier, open } = await cliEnvironment(t);
  await portier(...EVENTS_SERVICE);
  const created = await portier(
    'clients',
    'create',
    '--name',
    'API Eaglebe',
    '--owner',
    'user-42',
    '--client-id',
    'eaglebe',
    '--grant',
    'events:events:read',
  );
  const secret = created.stdout.trim().split('\n').at(-1) ?? '';
  t.match(secret, /^portier_cred_[0-9A-Za-z]{16}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/, 'the secret is the last line of standard output');
  t.match(created.stderr, /shown this once/);
  const resource = JSON.parse(created.stdout.slice(0, created.stdout.lastIndexOf('}') + 1));
  t.equal(resource.created_by, `cli:${(await import('node:os')).userInfo().username}`);

  const listed = JSON.parse((await portier('clients', 'list', '--status', 'active')).stdout);
  t.same(
    listed.items.map((client: { client_id: string }) => client.client_id),
    ['eaglebe'],
  );
  t.notMatch(JSON.stringify(listed), secret, 'the list never shows the secret');

  // The server, started afterwards on the same database, honours what the CLI made.
  const database = await open();
  const server = await build(t, { database });
  const res = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('eaglebe', secret) });
  t.equal(res.statusCode, 200);
  t.equal(res.json().scope, 'events:read');
});

t.test('disable, rotate-secret, delete and the audit trail', async (t) => {
  const { portier } = await cliEnvironment(t);
  await portier(...EVENTS_SERVICE);
  await portier('clients', 'create', '--name', 'A', '--owner', 'o', '--client-id', 'client-a', '--grant', 'events:events:read');
  const disabled = JSON.parse((await portier('clients', 'disable', 'client-a')).stdout);
  t.same(disabled.results, [{ client_id: 'client-a', ok: true, status: 'disabled' }]);
  const rotated = await portier('clients', 'rotate-secret', 'client-a', '--previous-valid-for', '60');
  t.match(rotated.stdout.trim(), /^portier_cred_/);
  t.match(rotated.stderr, /previous secret works until/);
  await portier('clients', 'delete', 'client-a');
  const audit = JSON.parse((await portier('audit', '--client-id', 'client-a')).stdout);
  t.same(
    audit.items.map((event: { action: string }) => event.action),
    ['client.deleted', 'client.secret_regenerated', 'client.disabled', 'client.created'],
  );
  t.notMatch(JSON.stringify(audit), rotated.stdout.trim(), 'no secret in the audit trail');
});

t.test('bad input is one clear line and a non-zero exit, and changes nothing', async (t) => {
  const { portier } = await cliEnvironment(t);
  const failures: Array<[string[], RegExp]> = [
    [['clients', 'create', '--name', 'x', '--owner', 'o', '--grant', 'nope:read'], /\/grants\/0\/service: unknown service "nope"/],
    [['clients', 'create', '--name', 'x', '--owner', 'o', '--client-id', 'Bad ID'], /\/client_id/],
    [['clients', 'create', '--name', 'x', '--owner', 'o', '--ip-range', '10.0.0.0/33'], /\/ip_ranges\/0/],
    [['clients', 'get', 'missing'], /no client with client_id "missing"/],
    [['clients', 'delete', 'missing'], /no client with client_id "missing"/],
    [['clients', 'frobnicate'], /unknown clients command/],
    [['clients', 'create', '--bogus'], /Unknown option/],
  ];
  for (const [args, message] of failures) {
    const error = await portier(...args).then(
      () => undefined,
      (failure: { code: number; stderr: string }) => failure,
    );
    t.ok(error, `${args.join(' ')} fails`);
    t.equal(error?.code, 1);
    t.match(error?.stderr ?? '', message);
  }
  const listed = JSON.parse((await portier('clients', 'list')).stdout);
  t.same(listed.items, [], 'no client was half-created');
});

t.test('an argument that starts with a single "-" is a value, not an option: a kid may start with one', async (t) => {
  const line = parseCommandLine(['keys', 'activate', '-XRPmQxsX_H6L', '--at', '-5', '--role', '-r', '-h']);
  t.same(line.positionals, ['keys', 'activate', '-XRPmQxsX_H6L'], 'a positional');
  t.equal(line.values.at, '-5', 'the value of a string option (checked later, as any other value)');
  t.same(line.values.role, ['-r'], 'the value of a repeated option');
  t.equal(line.values.help, true, '-h is still --help');
  t.throws(() => parseCommandLine(['clients', 'create', '--bogus']), /Unknown option '--bogus'/, 'an unknown --option still fails');

  const { portier } = await cliEnvironment(t);
  await portier(...EVENTS_SERVICE);
  const created = await portier('clients', 'create', '--name', 'x', '--owner', 'o', '--description', '-for the vendor');
  t.equal(
    JSON.parse(created.stdout.slice(0, created.stdout.lastIndexOf('}') + 1)).description,
    '-for the vendor',
    'through the real command',
  );
});

t.test(
  'on PGlite, a second process cannot open a DATA_DIR in use',
  { skip: process.env.DATABASE_URL ? 'PGlite only' : false },
  async (t) => {
    const dataDir = await seededDataDir(t);
    const database = await connectDatabase({ dataDir });
    try {
      const error = await portierProcess({ DATA_DIR: dataDir }, 'clients', 'list').then(
        () => undefined,
        (failure: { code: number; stderr: string }) => failure,
      );
      t.equal(error?.code, 1);
      t.match(error?.stderr ?? '', /DATA_DIR .* is in use by process \d+/);
    } finally {
      await database.close();
    }
    const after = await portierProcess({ DATA_DIR: dataDir }, 'migrate');
    t.match(after.stderr, /up to date/, 'once released, the folder opens');
  },
);

t.test('clients update changes the fields given, as PATCH does', async (t) => {
  const { portier } = await cliEnvironment(t);
  await portier(...EVENTS_SERVICE, '--scope', 'events:write');
  await portier(
    'clients',
    'create',
    '--name',
    'A',
    '--owner',
    'o',
    '--client-id',
    'client-a',
    '--grant',
    'events:events:read',
    '--expires-at',
    '2099-01-01T00:00:00Z',
  );
  const updated = JSON.parse(
    (
      await portier(
        'clients',
        'update',
        'client-a',
        '--description',
        'Events feed',
        '--role',
        'reader',
        '--role',
        'writer',
        '--grant',
        'events:events:read,events:write',
        '--ip-range',
        '192.0.2.7/24',
        '--expires-at',
        'none',
      )
    ).stdout,
  );
  t.match(updated, {
    client_id: 'client-a',
    name: 'A',
    owner: 'o',
    description: 'Events feed',
    roles: ['reader', 'writer'],
    grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }],
    ip_ranges: ['192.0.2.0/24'],
    expires_at: null,
  });
  const refused = await portier('clients', 'update', 'client-a', '--ip-range', '10.0.0.0/33').then(
    () => undefined,
    (error: { code?: number; stderr?: string }) => error,
  );
  t.equal(refused?.code, 1, 'a bad value: exit 1');
  t.match(refused?.stderr, /\/ip_ranges\/0/, 'naming the field');
  const after = JSON.parse((await portier('clients', 'get', 'client-a')).stdout);
  t.same(after.ip_ranges, ['192.0.2.0/24'], 'and nothing changed');
});

t.test(
  'clients update --owner passes a client on; services take --self-service, --no-self-service and what operators may choose',
  async (t) => {
    const { portier } = await cliEnvironment(t);
    const service = JSON.parse((await portier(...EVENTS_SERVICE, '--self-service')).stdout);
    t.equal(service.self_service, true, 'created open to self-service');
    const closed = JSON.parse((await portier('services', 'update', 'events', '--no-self-service')).stdout);
    t.equal(closed.self_service, false, 'and closed again');
    const both = await portier('services', 'update', 'events', '--self-service', '--no-self-service').then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    t.equal(both?.code, 1, 'both at once: refused');
    t.match(both?.stderr, /--self-service or --no-self-service, not both/);

    const offering = JSON.parse(
      (
        await portier(
          'services',
          'update',
          'events',
          '--self-service',
          '--self-service-role',
          'reader',
          '--self-service-role',
          'writer',
          '--self-service-max-ttl',
          '600',
        )
      ).stdout,
    );
    t.match(
      offering,
      { self_service: true, self_service_roles: ['reader', 'writer'], self_service_max_access_token_ttl: 600 },
      'what operators may choose',
    );
    const none = JSON.parse(
      (await portier('services', 'update', 'events', '--no-self-service-roles', '--self-service-max-ttl', 'none')).stdout,
    );
    t.match(none, { self_service_roles: [], self_service_max_access_token_ttl: null }, 'and nothing again');
    const badTtl = await portier('services', 'update', 'events', '--self-service-max-ttl', 'long').then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    t.match(badTtl, { code: 1, stderr: /\/self_service_max_access_token_ttl/ }, 'not a number: the field named');

    // The CLI is an admin's tool: an operator's client takes any role, claim and lifetime.
    await portier(
      'clients',
      'create',
      '--name',
      'A',
      '--owner',
      'alice@example.com',
      '--client-id',
      'client-a',
      '--grant',
      'events:events:read',
    );
    const roles = JSON.parse((await portier('clients', 'update', 'client-a', '--role', 'billing-admin')).stdout);
    t.same(roles.roles, ['billing-admin'], 'a role no service offers');
    const moved = JSON.parse((await portier('clients', 'update', 'client-a', '--owner', 'bob@example.com')).stdout);
    t.equal(moved.owner, 'bob@example.com');
    const events = JSON.parse((await portier('audit', '--client-id', 'client-a')).stdout).items;
    t.match(events[0], { action: 'client.updated', details: { changes: { owner: { from: 'alice@example.com', to: 'bob@example.com' } } } });
  },
);
