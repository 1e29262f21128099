import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import { expectInvalid, expectProblem } from '../expect.js';
import { ADMIN_ID, addService, buildWithAdmin } from '../helpers.js';

// Validation of admin client bodies, paths and query strings: unknown fields, length
// limits, hostile strings, huge arrays, wrong types and broken JSON. Every refusal is a
// 4xx application/problem+json naming each bad field; nothing ever answers 500.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const BASE = { name: 'Valid name', owner: 'user-1' };
const SQL = "'; DROP TABLE clients; --";

async function setUp(t: Test): Promise<Server> {
  const server = await buildWithAdmin(t);
  await addService(server.database, EVENTS);
  await server.admin('POST', '/admin/clients', { client_id: 'existing', ...BASE }).then((response) => t.equal(response.statusCode, 201));
  return server;
}

/** Raw inject, for bodies that are not JSON.stringify of a value. */
function raw(server: Server, method: 'POST' | 'PATCH', url: string, payload: string | undefined, contentType: string | undefined) {
  return server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${server.token}`, ...(contentType === undefined ? {} : { 'content-type': contentType }) },
    ...(payload === undefined ? {} : { payload }),
  });
}

async function clientIds(server: Server): Promise<string[]> {
  const response = await server.admin('GET', '/admin/clients?limit=200');
  return (response.json() as { items: Array<{ client_id: string }> }).items.map((item) => item.client_id).sort();
}

t.test('unknown fields are refused by name', async (t) => {
  const server = await setUp(t);
  const cases: Array<[string, 'POST' | 'PATCH', string, Record<string, unknown>, string[]]> = [
    ['create: one unknown field', 'POST', '/admin/clients', { ...BASE, colour: 'red' }, ['/colour']],
    ['create: two unknown fields', 'POST', '/admin/clients', { ...BASE, colour: 'red', size: 3 }, ['/colour', '/size']],
    ['create: choosing a secret', 'POST', '/admin/clients', { ...BASE, client_secret: 'my-own-secret' }, ['/client_secret']],
    ['create: the internal secret input', 'POST', '/admin/clients', { ...BASE, secret: 'my-own-secret' }, ['/secret']],
    [
      'create: setting read-only fields',
      'POST',
      '/admin/clients',
      { ...BASE, enabled: false, status: 'disabled', created_by: 'me' },
      ['/enabled', '/status', '/created_by'],
    ],
    [
      'create: service_account',
      'POST',
      '/admin/clients',
      { ...BASE, service_account: { id: '00000000-0000-0000-0000-000000000000' } },
      ['/service_account'],
    ],
    [
      'create: inside a grant',
      'POST',
      '/admin/clients',
      { ...BASE, grants: [{ service: 'events', scopes: [], audience: 'x' }] },
      ['/grants/0/audience'],
    ],
    [
      'create: beside jwks keys',
      'POST',
      '/admin/clients',
      { ...BASE, auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC' }], extra: 1 } },
      ['/jwks/extra'],
    ],
    ['create: unknown and invalid together', 'POST', '/admin/clients', { name: '', owner: 'user-1', colour: 'red' }, ['/name', '/colour']],
    ['patch: unknown field', 'PATCH', '/admin/clients/existing', { colour: 'red' }, ['/colour']],
    ['patch: enabled (use /disable)', 'PATCH', '/admin/clients/existing', { enabled: false }, ['/enabled']],
    ['patch: client_secret', 'PATCH', '/admin/clients/existing', { client_secret: 'mine' }, ['/client_secret']],
    // auth_method, jwks and jwks_uri can be patched (a switch of method); a near miss cannot.
    ['patch: jwks_url', 'PATCH', '/admin/clients/existing', { jwks_url: 'https://keys.example/' }, ['/jwks_url']],
    ['bulk: unknown field', 'POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['existing'], force: true }, ['/force']],
    ['secret: unknown field', 'POST', '/admin/clients/existing/secret', { previous_secret_valid_for: 10, reason: 'x' }, ['/reason']],
  ];
  for (const [what, method, url, body, paths] of cases) {
    const response = await server.admin(method, url, body);
    const problem = expectInvalid(t, response, paths, what);
    if (paths.some((path) => ['/colour', '/client_secret', '/enabled', '/force', '/reason'].includes(path))) {
      t.match(JSON.stringify(problem.errors), /not a known field/, `${what}: says the field is unknown`);
    }
  }
  t.same(await clientIds(server), [ADMIN_ID, 'existing'].sort(), 'no client was created');
  t.match((await server.admin('GET', '/admin/clients/existing')).json(), { enabled: true, name: BASE.name }, 'existing is unchanged');
});

t.test('every length limit, at the limit and one past it', async (t) => {
  const server = await setUp(t);
  type Case = [field: string, ok: Record<string, unknown>, bad: Record<string, unknown>, path: string];
  const cases: Case[] = [
    ['name', { name: 'n'.repeat(200) }, { name: 'n'.repeat(201) }, '/name'],
    ['name empty', { name: 'n' }, { name: '' }, '/name'],
    ['description', { description: 'd'.repeat(2000) }, { description: 'd'.repeat(2001) }, '/description'],
    ['owner', { owner: 'o'.repeat(200) }, { owner: 'o'.repeat(201) }, '/owner'],
    ['owner empty', { owner: 'o' }, { owner: '' }, '/owner'],
    ['first_name', { first_name: 'f'.repeat(100) }, { first_name: 'f'.repeat(101) }, '/first_name'],
    ['last_name', { last_name: 'l'.repeat(100) }, { last_name: 'l'.repeat(101) }, '/last_name'],
    ['a role', { roles: ['r'.repeat(100)] }, { roles: ['r'.repeat(101)] }, '/roles/0'],
    [
      'roles count',
      { roles: Array.from({ length: 50 }, (_, i) => `role-${i}`) },
      { roles: Array.from({ length: 51 }, (_, i) => `role-${i}`) },
      '/roles',
    ],
    [
      'a scope',
      { grants: [{ service: 'events', scopes: ['events:read'] }] },
      { grants: [{ service: 'events', scopes: ['s'.repeat(201)] }] },
      '/grants/0/scopes/0',
    ],
    [
      'grant service id',
      { grants: [{ service: 'events', scopes: [] }] },
      { grants: [{ service: 's'.repeat(65), scopes: [] }] },
      '/grants/0/service',
    ],
    [
      'an ip range',
      { ip_ranges: ['2001:0db8:0000:0000:0000:0000:0000:0001/128'] },
      { ip_ranges: [`${'0'.repeat(60)}1.2.3.4/32`] },
      '/ip_ranges/0',
    ],
    [
      'ip_ranges count',
      { ip_ranges: Array.from({ length: 100 }, (_, i) => `10.0.${i}.0/24`) },
      { ip_ranges: Array.from({ length: 101 }, (_, i) => `10.0.${i}.0/24`) },
      '/ip_ranges',
    ],
    ['expires_at', { expires_at: '2099-01-01T00:00:00Z' }, { expires_at: `2099-01-01T00:00:00.${'0'.repeat(60)}Z` }, '/expires_at'],
  ];
  let n = 0;
  for (const [field, ok, bad, path] of cases) {
    n += 1;
    const accepted = await server.admin('POST', '/admin/clients', { client_id: `limit-ok-${n}`, ...BASE, ...ok });
    t.equal(accepted.statusCode, 201, `${field} at the limit: 201 (${accepted.statusCode === 201 ? '' : accepted.body})`);
    expectInvalid(
      t,
      await server.admin('POST', '/admin/clients', { client_id: `limit-bad-${n}`, ...BASE, ...bad }),
      [path],
      `${field} past the limit (create)`,
    );
    // The same limits on PATCH (client_id and owner are not patchable).
    if (!('owner' in bad)) {
      expectInvalid(t, await server.admin('PATCH', '/admin/clients/existing', bad), [path], `${field} past the limit (patch)`);
    }
  }
  // A 200-character name comes back whole.
  const long = (await server.admin('GET', '/admin/clients/limit-ok-1')).json() as { name: string };
  t.equal(long.name, 'n'.repeat(200));

  // client_id: 3 to 64 characters.
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'a'.repeat(64), ...BASE })).statusCode, 201, 'client_id of 64: 201');
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'abc', ...BASE })).statusCode, 201, 'client_id of 3: 201');
  expectInvalid(t, await server.admin('POST', '/admin/clients', { client_id: 'b'.repeat(65), ...BASE }), ['/client_id'], 'client_id of 65');
  expectInvalid(t, await server.admin('POST', '/admin/clients', { client_id: 'ab', ...BASE }), ['/client_id'], 'client_id of 2');
  expectInvalid(t, await server.admin('POST', '/admin/clients', { client_id: '', ...BASE }), ['/client_id'], 'empty client_id');
});

t.test('huge bodies: 413 or 400, never 500', async (t) => {
  const server = await setUp(t);
  const megabyte = 'x'.repeat(1024 * 1024);
  const cases: Array<[string, 'POST' | 'PATCH', string, Record<string, unknown>]> = [
    ['1 MB name on create', 'POST', '/admin/clients', { ...BASE, name: megabyte }],
    ['1 MB description on create', 'POST', '/admin/clients', { ...BASE, description: megabyte }],
    ['1 MB owner on create', 'POST', '/admin/clients', { name: 'n', owner: megabyte }],
    ['1 MB client_id on create', 'POST', '/admin/clients', { ...BASE, client_id: megabyte }],
    ['1 MB name on patch', 'PATCH', '/admin/clients/existing', { name: megabyte }],
    ['1 MB bulk list', 'POST', '/admin/clients/bulk', { action: 'disable', client_ids: [megabyte] }],
    ['2 MB name (past the server-wide limit)', 'POST', '/admin/clients', { ...BASE, name: megabyte + megabyte }],
  ];
  for (const [what, method, url, body] of cases) {
    const response = await server.admin(method, url, body);
    t.ok([400, 413].includes(response.statusCode), `${what}: 400 or 413 (got ${response.statusCode})`);
    expectProblem(t, response, 'any4xx', what);
    t.ok(response.body.length < 10_000, `${what}: the answer does not echo the input`);
  }
  // Just under the admin body limit, still far past the field limit: 400 naming the field.
  const big = await server.admin('POST', '/admin/clients', { ...BASE, name: 'y'.repeat(200 * 1024) });
  expectInvalid(t, big, ['/name'], '200 KB name');
  t.ok(big.body.length < 10_000, '200 KB name: the answer does not echo the input');
  t.same(await clientIds(server), [ADMIN_ID, 'existing'].sort(), 'nothing was created');
});

t.test('hostile strings: SQL-looking, emoji, control characters', async (t) => {
  const server = await setUp(t);

  // Stored and returned verbatim where the field allows free text.
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'sql-name',
    name: SQL,
    description: `${SQL}\nline two\t"quoted" \\ backslash %_`,
    first_name: "O'Brien",
    last_name: 'Robert"); DROP TABLE students;--',
    owner: "user'--",
  });
  t.equal(created.statusCode, 201, 'SQL-looking text is just text');
  const stored = (await server.admin('GET', '/admin/clients/sql-name')).json() as Record<string, unknown>;
  t.equal(stored.name, SQL, 'name comes back verbatim');
  t.equal(stored.description, `${SQL}\nline two\t"quoted" \\ backslash %_`, 'description too (newline and tab allowed there)');
  t.equal(stored.first_name, "O'Brien");
  t.equal(stored.last_name, 'Robert"); DROP TABLE students;--');
  t.equal(stored.owner, "user'--");
  t.same(await clientIds(server), [ADMIN_ID, 'existing', 'sql-name'].sort(), 'the clients table is still there');
  const byName = (await server.admin('GET', `/admin/clients?name=${encodeURIComponent(SQL)}`)).json() as {
    items: Array<{ client_id: string }>;
  };
  t.same(
    byName.items.map((item) => item.client_id),
    ['sql-name'],
    'filtering by the SQL-looking name finds it',
  );
  const byOwner = (await server.admin('GET', `/admin/clients?owner=${encodeURIComponent("user'--")}`)).json() as {
    items: Array<{ client_id: string }>;
  };
  t.same(
    byOwner.items.map((item) => item.client_id),
    ['sql-name'],
    'filtering by the quote-bearing owner finds it',
  );
  const patched = await server.admin('PATCH', '/admin/clients/existing', { name: SQL });
  t.equal(patched.statusCode, 200);
  t.equal((patched.json() as { name: string }).name, SQL, 'PATCH stores it verbatim too');

  const unicode = await server.admin('POST', '/admin/clients', {
    client_id: 'unicode-name',
    ...BASE,
    name: 'Événements 🎉 日本語',
    first_name: 'Zoë',
    last_name: 'Ñandú',
  });
  t.equal(unicode.statusCode, 201, 'unicode (emoji included) is fine in a name');
  t.match(unicode.json(), { name: 'Événements 🎉 日本語', first_name: 'Zoë', last_name: 'Ñandú' });

  // Refused where the field is an identifier.
  const refusals: Array<[string, Record<string, unknown>, string[]]> = [
    ['SQL as client_id', { client_id: SQL }, ['/client_id']],
    ['quote in client_id', { client_id: "abc'def" }, ['/client_id']],
    ['emoji in client_id', { client_id: 'client-🎉' }, ['/client_id']],
    ['upper case client_id', { client_id: 'MyClient' }, ['/client_id']],
    ['client_id starting with "-"', { client_id: '-client' }, ['/client_id']],
    ['client_id starting with "."', { client_id: '.client' }, ['/client_id']],
    ['client_id with a space', { client_id: 'my client' }, ['/client_id']],
    ['client_id with a slash', { client_id: 'a/b/c' }, ['/client_id']],
    ['client_id with a NUL', { client_id: 'abc\u0000def' }, ['/client_id']],
    ['non-ASCII letter in client_id', { client_id: 'clïent' }, ['/client_id']],
    ['SQL with spaces as owner', { owner: SQL }, ['/owner']],
    ['emoji in owner', { owner: 'user-🎉' }, ['/owner']],
    ['space in owner', { owner: 'user 42' }, ['/owner']],
    ['emoji in a role', { roles: ['reader-🎉'] }, ['/roles/0']],
    ['space in a role', { roles: ['events reader'] }, ['/roles/0']],
    ['NUL in name', { name: 'a\u0000b' }, ['/name']],
    ['newline in name', { name: 'line\nbreak' }, ['/name']],
    ['escape sequence in name', { name: '\u001b[31mred' }, ['/name']],
    ['DEL in first_name', { first_name: 'a\u007fb' }, ['/first_name']],
    ['NUL in description', { description: 'a\u0000b' }, ['/description']],
    // A lone surrogate has no UTF-8 form (PostgreSQL's jsonb refuses it): never a 500.
    ['lone surrogate in name', { name: 'a\ud800b' }, ['/name']],
    ['lone low surrogate in description', { description: 'a\udc00b' }, ['/description']],
    ['lone surrogate in last_name', { last_name: '\ud83d' }, ['/last_name']],
    ['NUL in a key id', { auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', kid: 'k\u0000' }] } }, ['/jwks/keys/0/kid']],
  ];
  for (const [what, fields, paths] of refusals) {
    expectInvalid(t, await server.admin('POST', '/admin/clients', { ...BASE, ...fields }), paths, what);
  }
  t.same(await clientIds(server), [ADMIN_ID, 'existing', 'sql-name', 'unicode-name'].sort(), 'no refused client was created');

  // In the path, the same rules: 400, not a 404 or a 500.
  for (const clientId of [SQL, 'client-🎉', 'UPPER', 'a', '%00abc']) {
    const url = `/admin/clients/${clientId === '%00abc' ? clientId : encodeURIComponent(clientId)}`;
    expectProblem(t, await server.admin('GET', url), 400, `GET ${url}`);
    expectProblem(t, await server.admin('PATCH', url, { name: 'x' }), 400, `PATCH ${url}`);
    expectProblem(t, await server.admin('DELETE', url), 400, `DELETE ${url}`);
    expectProblem(t, await server.admin('POST', `${url}/disable`), 400, `disable ${url}`);
    expectProblem(t, await server.admin('POST', `${url}/secret`), 400, `secret ${url}`);
  }
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['existing', SQL] }),
    ['/client_ids/1'],
    'bulk with a SQL client_id',
  );
  // Paths the router cannot decode, and parameters longer than it takes: problem
  // documents too (these were Fastify's own {error, code, message, statusCode} bodies).
  for (const [url, status] of [
    ['/admin/clients/%', 400],
    ['/admin/clients/existing%zz', 400],
    ['/admin/clients/a%E0%A4%A/disable', 400],
    ['/admin/services/%ED%A0%80', 400],
    [`/admin/clients/${'a'.repeat(101)}`, 414],
    [`/admin/services/${'s'.repeat(101)}`, 414],
  ] as const) {
    expectProblem(t, await server.admin('GET', url), status, `GET ${url}`);
    expectProblem(t, await server.admin('PATCH', url, { name: 'x' }), status, `PATCH ${url}`);
  }

  // Filters in query strings: PostgreSQL refuses NUL in text, so these never reach it.
  for (const [url, path] of [
    ['/admin/clients?name=a%00b', '/querystring/name'],
    ['/admin/clients?owner=%00', '/querystring/owner'],
    ['/admin/clients?created_by=cli%00', '/querystring/created_by'],
    ['/admin/audit-events?client_id=a%00', '/querystring/client_id'],
    ['/admin/audit-events?action=client.created%00', '/querystring/action'],
    ['/admin/audit-events?actor_client_id=%00', '/querystring/actor_client_id'],
  ] as const) {
    expectInvalid(t, await server.admin('GET', url), [path], `GET ${url}`);
  }
  const byEmoji = await server.admin('GET', `/admin/clients?name=${encodeURIComponent('🎉')}`);
  t.same(
    (byEmoji.json() as { items: Array<{ client_id: string }> }).items.map((item) => item.client_id),
    ['unicode-name'],
    'an emoji filter is fine',
  );
});

t.test('a client key is stored as its public key, not as the object that was sent', async (t) => {
  const server = await setUp(t);
  const { publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const created = await server.admin('POST', '/admin/clients', {
    ...BASE,
    client_id: 'key-client',
    auth_method: 'private_key_jwt',
    jwks: {
      keys: [{ ...jwk, kid: 'key-1', use: 'sig', x5u: 'https://attacker.example/certs', note: 'a\u0000b', nested: { deep: ['\ud800'] } }],
    },
  });
  t.equal(created.statusCode, 201, 'unknown members are accepted');
  t.same(
    (created.json() as { jwks: unknown }).jwks,
    { keys: [{ ...jwk, kid: 'key-1', use: 'sig' }] },
    'and dropped: only the key, kid and use are kept',
  );
  const encryptionKey = await server.admin('POST', '/admin/clients', {
    ...BASE,
    auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...jwk, use: 'enc' }] },
  });
  expectInvalid(t, encryptionKey, ['/jwks/keys/0/use'], 'a key marked for encryption');
});

t.test('arrays of 10,000 elements are refused quickly and briefly', async (t) => {
  const server = await setUp(t);
  const many = <T>(make: (i: number) => T) => Array.from({ length: 10_000 }, (_, i) => make(i));
  // [what, fields, path named, larger than the 256 KiB admin body limit (then 413 is right too)]
  const cases: Array<[string, Record<string, unknown>, string, boolean?]> = [
    ['roles', { roles: many((i) => `role-${i}`) }, '/roles'],
    ['ip_ranges', { ip_ranges: many((i) => `10.${i >> 8}.${i & 255}.0/24`) }, '/ip_ranges'],
    ['grants', { grants: many(() => ({ service: 'events', scopes: ['events:read'] })) }, '/grants', true],
    ['grants, small enough for the body limit', { grants: many(() => ({ service: 'e', scopes: [] })).slice(0, 8000) }, '/grants'],
    ['scopes of a grant', { grants: [{ service: 'events', scopes: many(() => 'events:read') }] }, '/grants/0/scopes'],
    ['roles, each also invalid', { roles: many((i) => ` role ${i}`) }, '/roles'],
  ];
  for (const [what, fields, path, overBodyLimit = false] of cases) {
    const response = await server.admin('POST', '/admin/clients', { ...BASE, ...fields });
    const refused = overBodyLimit ? [400, 413] : [400];
    t.ok(refused.includes(response.statusCode), `${what} (create): ${refused.join(' or ')} (got ${response.statusCode})`);
    const body = expectProblem(t, response, 'any4xx', `${what} (create)`);
    if (response.statusCode === 400)
      t.ok(
        body.errors?.some((error) => error.path === path),
        `${what}: errors name ${path}`,
      );
    t.ok((body.errors?.length ?? 0) <= 100, `${what}: at most 100 errors listed (got ${body.errors?.length})`);
    t.ok(response.body.length < 50_000, `${what}: a short answer (${response.body.length} bytes)`);
    const patch = await server.admin('PATCH', '/admin/clients/existing', fields);
    t.ok(refused.includes(patch.statusCode), `${what} (patch): ${refused.join(' or ')} (got ${patch.statusCode})`);
  }
  const bulk = await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: many((i) => `client-${i}`) });
  const body = expectProblem(t, bulk, 400, 'bulk with 10,000 ids');
  t.ok(
    body.errors?.some((error) => error.path === '/client_ids'),
    'bulk: errors name /client_ids',
  );
  t.same(await clientIds(server), [ADMIN_ID, 'existing'].sort(), 'nothing was created');
  t.match((await server.admin('GET', '/admin/clients/existing')).json(), { enabled: true, roles: [] }, 'existing is unchanged');
});

t.test('wrong types are refused, not coerced', async (t) => {
  const server = await setUp(t);
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['name: number', { name: 123 }, '/name'],
    ['name: array', { name: ['a'] }, '/name'],
    ['name: object', { name: {} }, '/name'],
    ['name: null', { name: null }, '/name'],
    ['name: boolean', { name: true }, '/name'],
    ['owner: boolean', { owner: true }, '/owner'],
    ['owner: number', { owner: 42 }, '/owner'],
    ['client_id: number', { client_id: 12345 }, '/client_id'],
    ['description: null', { description: null }, '/description'],
    ['description: number', { description: 1 }, '/description'],
    ['first_name: number', { first_name: 5 }, '/first_name'],
    ['first_name: empty string', { first_name: '' }, '/first_name'],
    ['last_name: object', { last_name: { a: 1 } }, '/last_name'],
    ['roles: string', { roles: 'admin' }, '/roles'],
    ['roles: object', { roles: { 0: 'admin' } }, '/roles'],
    ['roles: number items', { roles: [1] }, '/roles/0'],
    ['roles: duplicates', { roles: ['a', 'a'] }, '/roles'],
    ['grants: object', { grants: {} }, '/grants'],
    ['grants: string', { grants: 'events' }, '/grants'],
    ['grants: string items', { grants: ['events'] }, '/grants/0'],
    ['grant without scopes', { grants: [{ service: 'events' }] }, '/grants/0/scopes'],
    ['grant without service', { grants: [{ scopes: [] }] }, '/grants/0/service'],
    ['grant scopes: string', { grants: [{ service: 'events', scopes: 'events:read' }] }, '/grants/0/scopes'],
    ['ip_ranges: string', { ip_ranges: '10.0.0.0/8' }, '/ip_ranges'],
    ['ip_ranges: number items', { ip_ranges: [167772160] }, '/ip_ranges/0'],
    ['expires_at: number', { expires_at: 4102444800 }, '/expires_at'],
    ['expires_at: not a date', { expires_at: 'tomorrow' }, '/expires_at'],
    ['expires_at: impossible date', { expires_at: '2099-13-45T00:00:00Z' }, '/expires_at'],
    ['expires_at: date only', { expires_at: '2099-01-01' }, '/expires_at'],
    ['auth_method: unknown', { auth_method: 'password' }, '/auth_method'],
    ['auth_method: null', { auth_method: null }, '/auth_method'],
    ['jwks: array', { auth_method: 'private_key_jwt', jwks: [] }, '/jwks'],
    ['jwks keys: object', { auth_method: 'private_key_jwt', jwks: { keys: {} } }, '/jwks/keys'],
  ];
  for (const [what, fields, path] of cases) {
    expectInvalid(t, await server.admin('POST', '/admin/clients', { ...BASE, ...fields }), [path], `create, ${what}`);
    if (!('client_id' in fields) && !('owner' in fields) && !('auth_method' in fields) && !('jwks' in fields)) {
      expectInvalid(t, await server.admin('PATCH', '/admin/clients/existing', fields), [path], `patch, ${what}`);
    }
  }
  t.same(await clientIds(server), [ADMIN_ID, 'existing'].sort(), 'nothing was created');
  t.match(
    (await server.admin('GET', '/admin/clients/existing')).json(),
    { name: BASE.name, description: '', roles: [], ip_ranges: [] },
    'existing is unchanged',
  );

  // Other bodies.
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/bulk', { action: 'delete', client_ids: ['existing'] }),
    ['/action'],
    'bulk: unknown action',
  );
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: 'existing' }),
    ['/client_ids'],
    'bulk: client_ids a string',
  );
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: [] }),
    ['/client_ids'],
    'bulk: no ids',
  );
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['existing', 'existing'] }),
    ['/client_ids'],
    'bulk: an id twice',
  );
  expectInvalid(t, await server.admin('POST', '/admin/clients/bulk', { client_ids: ['existing'] }), ['/action'], 'bulk: no action');
  expectInvalid(t, await server.admin('POST', '/admin/clients/bulk', { action: 'disable' }), ['/client_ids'], 'bulk: no client_ids');
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/existing/secret', { previous_secret_valid_for: '60' }),
    ['/previous_secret_valid_for'],
    'secret: grace as a string',
  );
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/existing/secret', { previous_secret_valid_for: 1.5 }),
    ['/previous_secret_valid_for'],
    'secret: fractional grace',
  );
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/existing/secret', { previous_secret_valid_for: -1 }),
    ['/previous_secret_valid_for'],
    'secret: negative grace',
  );
  t.match((await server.admin('GET', '/admin/clients/existing')).json(), { enabled: true }, 'existing still enabled');
});

t.test('missing, empty and broken bodies', async (t) => {
  const server = await setUp(t);
  expectInvalid(t, await server.admin('POST', '/admin/clients', {}), ['/name'], 'create {}');
  // An admin must say whose client it is (an operator's own clients need not: see test/people/self-service.test.ts).
  expectInvalid(t, await server.admin('POST', '/admin/clients', { name: 'Nobody’s' }), ['/owner'], 'create without an owner');
  expectInvalid(t, await server.admin('POST', '/admin/clients', { name: 'only a name' }), ['/owner'], 'create without owner');
  expectInvalid(t, await server.admin('POST', '/admin/clients', { owner: 'user-1' }), ['/name'], 'create without name');

  const broken: Array<[string, 'POST' | 'PATCH', string, string | undefined, string | undefined]> = [
    ['create: empty JSON body', 'POST', '/admin/clients', '', 'application/json'],
    ['create: no body at all', 'POST', '/admin/clients', undefined, undefined],
    ['create: invalid JSON', 'POST', '/admin/clients', '{"name": "x", "owner": ', 'application/json'],
    ['create: trailing garbage', 'POST', '/admin/clients', '{"name": "x", "owner": "y"} trailing', 'application/json'],
    ['create: single quotes', 'POST', '/admin/clients', "{'name': 'x', 'owner': 'y'}", 'application/json'],
    ['create: JSON null', 'POST', '/admin/clients', 'null', 'application/json'],
    ['create: JSON array', 'POST', '/admin/clients', '[{"name": "x", "owner": "y"}]', 'application/json'],
    ['create: JSON string', 'POST', '/admin/clients', '"name"', 'application/json'],
    ['create: JSON number', 'POST', '/admin/clients', '42', 'application/json'],
    ['create: form-encoded', 'POST', '/admin/clients', 'name=x&owner=y', 'application/x-www-form-urlencoded'],
    ['create: plain text', 'POST', '/admin/clients', 'name=x', 'text/plain'],
    ['create: __proto__ key', 'POST', '/admin/clients', '{"name": "x", "owner": "y", "__proto__": {"enabled": false}}', 'application/json'],
    [
      'create: constructor key',
      'POST',
      '/admin/clients',
      '{"name": "x", "owner": "y", "constructor": {"prototype": {"a": 1}}}',
      'application/json',
    ],
    ['patch: empty JSON body', 'PATCH', '/admin/clients/existing', '', 'application/json'],
    ['patch: no body', 'PATCH', '/admin/clients/existing', undefined, undefined],
    ['patch: invalid JSON', 'PATCH', '/admin/clients/existing', '{"name": ', 'application/json'],
    ['patch: {}', 'PATCH', '/admin/clients/existing', '{}', 'application/json'],
    ['patch: JSON null', 'PATCH', '/admin/clients/existing', 'null', 'application/json'],
    ['bulk: invalid JSON', 'POST', '/admin/clients/bulk', '{"action": "disable", client_ids: []}', 'application/json'],
    ['secret: invalid JSON', 'POST', '/admin/clients/existing/secret', '{"previous_secret_valid_for": }', 'application/json'],
  ];
  for (const [what, method, url, payload, contentType] of broken) {
    const response = await raw(server, method, url, payload, contentType);
    expectProblem(t, response, 'any4xx', what);
    t.ok([400, 415].includes(response.statusCode), `${what}: 400 or 415 (got ${response.statusCode})`);
  }
  t.same(await clientIds(server), [ADMIN_ID, 'existing'].sort(), 'nothing was created');
  t.match((await server.admin('GET', '/admin/clients/existing')).json(), { enabled: true, name: BASE.name }, 'existing is unchanged');
});

t.test('query strings of the list are validated', async (t) => {
  const server = await setUp(t);
  const cases: Array<[string, string]> = [
    ['limit=0', '/querystring/limit'],
    ['limit=201', '/querystring/limit'],
    ['limit=-1', '/querystring/limit'],
    ['limit=ten', '/querystring/limit'],
    ['limit=1.5', '/querystring/limit'],
    ['status=deleted', '/querystring/status'],
    ['expires_before=yesterday', '/querystring/expires_before'],
    ['expires_after=2099-13-01T00:00:00Z', '/querystring/expires_after'],
    ['service=%F0%9F%8E%89', '/querystring/service'],
    ['colour=red', '/querystring/colour'],
    [`name=${'n'.repeat(201)}`, '/querystring/name'],
    [`cursor=${'c'.repeat(1201)}`, '/querystring/cursor'],
  ];
  for (const [query, path] of cases) {
    expectInvalid(t, await server.admin('GET', `/admin/clients?${query}`), [path], `GET /admin/clients?${query.slice(0, 40)}`);
  }
  // Garbage cursors: not base64url JSON, JSON of the wrong shape.
  for (const cursor of [
    'garbage',
    '!!!',
    Buffer.from('{"after": 5}').toString('base64url'),
    Buffer.from('[]').toString('base64url'),
    Buffer.from('null').toString('base64url'),
  ]) {
    const response = await server.admin('GET', `/admin/clients?cursor=${encodeURIComponent(cursor)}`);
    expectProblem(t, response, 400, `cursor ${cursor}`);
    t.match(response.body, /cursor/, `cursor ${cursor}: the problem names the cursor`);
  }
  t.equal((await server.admin('GET', '/admin/clients?limit=1')).statusCode, 200, 'limit=1 is fine');
  t.equal((await server.admin('GET', '/admin/clients?limit=200')).statusCode, 200, 'limit=200 is fine');
});
