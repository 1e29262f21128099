import fc from 'fast-check';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import type { Config } from '../../src/config.js';
import { RESERVED_CLAIMS } from '../../src/policy/claims.js';
import { type Answer, expectProblem, type Problem } from '../expect.js';
import { basicAuth, buildWithAdmin, freePort } from '../helpers.js';
import { ssoConfig, startIdp, type TestIdp } from './idp.js';
import { callbackHop, signInThroughIdp, UserAgent } from './user-agent.js';

/**
 * The operator's limits (src/clients/operator-limits.ts) through the admin API, with
 * people signed in through a real OpenID Connect provider (node-oidc-provider on
 * 127.0.0.2) to a listening Portier, and what the tokens of the operators' clients carry.
 * Operators set only what is theirs to set: roles and lifetimes within what the client's
 * self-service services offer, nothing else that shapes a token; a refusal is a 403 naming
 * the field, and changes nothing. Last, a property test: random operator creates and
 * PATCHes, and no token of an operator's client carries a role, claim, lifetime or quota
 * that an admin did not allow.
 */

const PORTS = await Promise.all(Array.from({ length: 6 }, () => freePort()));
const ORIGINS = PORTS.map((port) => `http://127.0.0.1:${port}`);
const idp: TestIdp = await startIdp(t, { redirectUris: ORIGINS.map((origin) => `${origin}/console/auth/callback`) });
let nextPort = 0;

/** The catalogue: what each service offers operators, as an admin set it. */
const SERVICES = {
  orders: {
    audience: 'https://orders.example',
    scope: 'orders:read',
    self_service: true,
    self_service_roles: ['reader', 'writer'],
    self_service_max_access_token_ttl: 600,
    access_token_ttl: 300,
    claims: { service: 'orders' },
  },
  reports: {
    audience: 'https://reports.example',
    scope: 'reports:read',
    self_service: true,
    self_service_roles: ['reader'],
    self_service_max_access_token_ttl: null,
    access_token_ttl: null,
    claims: {},
  },
  // A role that means little here, and much elsewhere.
  sandbox: {
    audience: 'https://sandbox.example',
    scope: 'sandbox:play',
    self_service: true,
    self_service_roles: ['admin'],
    self_service_max_access_token_ttl: 1200,
    access_token_ttl: null,
    claims: {},
  },
  // Not self-service: what it lists offers operators nothing.
  billing: {
    audience: 'https://billing.example',
    scope: 'billing:read',
    self_service: false,
    self_service_roles: ['reader'],
    self_service_max_access_token_ttl: 3600,
    access_token_ttl: null,
    claims: { service: 'billing' },
  },
} as const;
type ServiceId = keyof typeof SERVICES;
const SERVICE_IDS = Object.keys(SERVICES) as ServiceId[];
/** ACCESS_TOKEN_TTL in these tests (the default). */
const SERVER_TTL = 3600;

const grantOf = (service: ServiceId) => ({ service, scopes: [SERVICES[service].scope] });

/** A Portier with SSO through the file's provider, listening, with the catalogue above. */
async function portier(t: Test, config: Partial<Config> = {}) {
  const index = nextPort++;
  const port = PORTS[index];
  const origin = ORIGINS[index];
  if (port === undefined || origin === undefined) throw new Error('no registered port left: add one to PORTS');
  const server = await buildWithAdmin(t, { config: { ...ssoConfig(idp, origin), ...config } });
  await server.app.listen({ port, host: '127.0.0.1' });
  for (const id of SERVICE_IDS) {
    const { scope, ...service } = SERVICES[id];
    const created = await server.admin('POST', '/admin/services', { id, name: id, ...service, scopes: [scope] });
    t.equal(created.statusCode, 201, `the admin created ${id}`);
  }

  /** A token for `clientId` and one service, with its secret over HTTP Basic. */
  const token = async (clientId: string, secret: string, service: ServiceId) => {
    const response = await fetch(`${origin}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: SERVICES[service].audience }),
    });
    const body = (await response.json()) as { access_token?: string; expires_in?: number; error?: string };
    return { status: response.status, body, claims: body.access_token === undefined ? undefined : decodeJwt(body.access_token) };
  };
  return { ...server, origin, token };
}

/**
 * A person signed in through the provider's login page (a real sign-in), and their calls
 * to the admin API with the session cookie, and Portier's Origin on changes, as the console
 * sends them.
 */
async function signIn(t: Test, origin: string, username: string) {
  const ua = new UserAgent();
  t.equal(callbackHop(await signInThroughIdp(ua, origin, username)).status, 302, `${username} signed in through the provider`);
  const cookie = ua.cookie('127.0.0.1', 'portier_session');
  if (cookie === undefined) throw new Error('no session cookie');
  return async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<Answer> => {
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: {
        cookie: `portier_session=${cookie}`,
        ...(method === 'GET' ? {} : { origin }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { statusCode: response.status, headers: Object.fromEntries(response.headers), json: () => JSON.parse(text) };
  };
}

/** A 403 problem naming `path` in its errors. */
function expectRefused(t: Test, answer: Answer, path: string, what: string): Problem {
  const problem = expectProblem(t, answer, 403, what);
  t.match(problem.errors, [{ path, message: /./ }], `${what}: names ${path}`);
  t.equal(problem.errors?.length, 1, `${what}: one field`);
  return problem;
}

t.test('the issue’s edit: roles, a claim, a day-long lifetime and no quota, each 403 by its field; nothing changes', async (t) => {
  const server = await portier(t, { tokenQuota: { perHour: 3, perDay: undefined, mode: 'enforce' } });
  const alice = await signIn(t, server.origin, 'alice');

  const created = await alice('POST', '/admin/clients', { client_id: 'alice-shop', name: 'Alice’s shop', grants: [grantOf('orders')] });
  t.equal(created.statusCode, 201, 'Alice creates her client');
  const secret = (created.json() as { client_secret: string }).client_secret;
  const { client_secret: _, ...asCreated } = created.json() as Record<string, unknown>;

  const refusals: Array<[string, Record<string, unknown>, string]> = [
    ['roles', { roles: ['billing-admin', 'superuser'] }, '/roles'],
    ['a custom claim', { claims: { tenant: 'all-tenants' } }, '/claims'],
    ['a 24-hour lifetime', { access_token_ttl: 86_400 }, '/access_token_ttl'],
    ['its own quota, left empty', { token_quota: {} }, '/token_quota'],
    ['its own quota, no limits', { token_quota: { per_hour: null, per_day: null, mode: 'log' } }, '/token_quota'],
  ];
  for (const [what, change, path] of refusals) {
    expectRefused(t, await alice('PATCH', '/admin/clients/alice-shop', { name: 'Renamed', ...change }), path, what);
    expectRefused(t, await alice('POST', '/admin/clients', { client_id: 'alice-new', name: 'New', ...change }), path, `${what}, on create`);
  }
  const whole = await alice('PATCH', '/admin/clients/alice-shop', {
    name: 'Renamed',
    roles: ['billing-admin', 'superuser'],
    claims: { tenant: 'all-tenants' },
    access_token_ttl: 86_400,
    token_quota: {},
  });
  expectProblem(t, whole, 403, 'the whole edit at once');
  t.same((await alice('GET', '/admin/clients/alice-shop')).json(), asCreated, 'the client is exactly as created (name and updated_at too)');
  t.equal((await alice('GET', '/admin/clients/alice-new')).statusCode, 404, 'no client was created');
  const events = (await alice('GET', '/admin/audit-events?client_id=alice-shop')).json() as { items: Array<{ action: string }> };
  t.same(
    events.items.map((event) => event.action),
    ['client.created'],
    'nothing was recorded as changed',
  );

  for (let i = 1; i <= 3; i++) {
    const issued = await server.token('alice-shop', secret, 'orders');
    t.equal(issued.status, 200, `token ${i} of the default quota (TOKEN_QUOTA_PER_HOUR=3)`);
    t.notOk('roles' in (issued.claims ?? {}), 'no roles');
    t.notOk('tenant' in (issued.claims ?? {}), 'no tenant claim');
    t.equal(issued.body.expires_in, 300, 'the service’s lifetime');
  }
  t.equal((await server.token('alice-shop', secret, 'orders')).status, 429, 'the fourth: over the quota an admin set for every client');
});

t.test('roles and lifetimes within what the client’s services offer, in the tokens', async (t) => {
  const server = await portier(t);
  const alice = await signIn(t, server.origin, 'alice');
  const services = (await alice('GET', '/admin/services')).json() as { items: Array<Record<string, unknown>> };
  t.match(
    services.items.find((service) => service.id === 'orders'),
    { self_service_roles: ['reader', 'writer'], self_service_max_access_token_ttl: 600 },
    'operators read what the services offer them',
  );

  const created = await alice('POST', '/admin/clients', {
    client_id: 'alice-feed',
    name: 'Feed',
    grants: [grantOf('orders')],
    roles: ['reader'],
    access_token_ttl: 600,
  });
  t.equal(created.statusCode, 201, 'created with a role and a lifetime orders offers');
  const secret = (created.json() as { client_secret: string }).client_secret;
  let issued = await server.token('alice-feed', secret, 'orders');
  t.same(issued.claims?.roles, ['reader'], 'the token carries the role');
  t.equal(issued.body.expires_in, 600, 'and the lifetime chosen');

  expectRefused(t, await alice('PATCH', '/admin/clients/alice-feed', { access_token_ttl: 601 }), '/access_token_ttl', 'over the maximum');
  expectRefused(t, await alice('PATCH', '/admin/clients/alice-feed', { access_token_ttl: null }), '/access_token_ttl', 'cleared');
  expectRefused(
    t,
    await alice('PATCH', '/admin/clients/alice-feed', { roles: ['reader', 'admin'] }),
    '/roles',
    'a role orders does not offer',
  );
  t.equal(
    (await alice('PATCH', '/admin/clients/alice-feed', { roles: ['reader', 'writer'], access_token_ttl: 120 })).statusCode,
    200,
    'another offered role, a shorter lifetime',
  );
  issued = await server.token('alice-feed', secret, 'orders');
  t.same(issued.claims?.roles, ['reader', 'writer']);
  t.equal(issued.body.expires_in, 120);

  const withReports = await alice('PATCH', '/admin/clients/alice-feed', { grants: [grantOf('orders'), grantOf('reports')] });
  expectRefused(t, withReports, '/grants/1/service', 'adding reports, which offers neither writer nor a lifetime');
  t.match((withReports.json() as Problem).errors?.[0]?.message, /roles writer/);
  const moved = await alice('PATCH', '/admin/clients/alice-feed', { grants: [grantOf('sandbox')], roles: [], access_token_ttl: 1200 });
  t.equal(moved.statusCode, 200, 'moving to sandbox: the roles orders offered dropped, a lifetime sandbox offers', { body: moved.json() });
  t.equal(
    (await alice('PATCH', '/admin/clients/alice-feed', { roles: ['admin'] })).statusCode,
    200,
    'the role sandbox offers: harmless there',
  );
  issued = await server.token('alice-feed', secret, 'sandbox');
  t.same(issued.claims?.roles, ['admin']);
  const carried = await alice('PATCH', '/admin/clients/alice-feed', { grants: [grantOf('sandbox'), grantOf('orders')] });
  expectRefused(t, carried, '/grants/1/service', 'and it cannot be carried to orders');
  t.match((carried.json() as Problem).errors?.[0]?.message, /"orders" does not offer operators the client's roles admin/);
  t.same(
    ((await alice('GET', '/admin/clients/alice-feed')).json() as { grants: unknown[] }).grants,
    [grantOf('sandbox')],
    'the grants are unchanged',
  );

  const events = (await alice('GET', '/admin/audit-events?client_id=alice-feed&action=client.updated')).json() as {
    items: Array<{ details: { changes: Record<string, unknown> } }>;
  };
  t.match(events.items.at(-1)?.details.changes, { roles: { from: ['reader'], to: ['reader', 'writer'] } }, 'each change audited');
});

t.test('what an admin set stays: the console’s whole form is accepted, the fields untouched', async (t) => {
  const server = await portier(t);
  const adminMade = {
    client_id: 'alice-billing',
    name: 'Billing export',
    owner: 'alice@example.com',
    grants: [grantOf('billing')],
    roles: ['billing-admin'],
    claims: { tenant: 'acme' },
    access_token_ttl: 120,
    token_quota: { per_hour: 50 },
  };
  const made = await server.admin('POST', '/admin/clients', adminMade);
  t.equal(made.statusCode, 201, 'an admin makes Alice a client with roles, a claim, a lifetime and a quota no service offers');
  const secret = (made.json() as { client_secret: string }).client_secret;
  const alice = await signIn(t, server.origin, 'alice');

  const form = {
    name: 'Billing export (nightly)',
    description: 'the nightly run',
    first_name: null,
    last_name: null,
    roles: ['billing-admin'],
    grants: [grantOf('billing')],
    ip_ranges: [],
    expires_at: null,
    access_token_ttl: 120,
    claims: { tenant: 'acme' },
    token_quota: { per_hour: 50, per_day: null, mode: 'enforce' },
  };
  const saved = await alice('PATCH', '/admin/clients/alice-billing', form);
  t.equal(saved.statusCode, 200, 'the whole form, the admin’s values repeated');
  t.match(saved.json(), {
    name: 'Billing export (nightly)',
    roles: ['billing-admin'],
    claims: { tenant: 'acme' },
    access_token_ttl: 120,
    token_quota: { per_hour: 50, per_day: null, mode: 'enforce' },
  });
  expectRefused(t, await alice('PATCH', '/admin/clients/alice-billing', { roles: [] }), '/roles', 'removing an admin’s role');
  expectRefused(t, await alice('PATCH', '/admin/clients/alice-billing', { access_token_ttl: 60 }), '/access_token_ttl', 'even shortening');
  expectRefused(
    t,
    await alice('PATCH', '/admin/clients/alice-billing', { grants: [grantOf('billing'), grantOf('orders')] }),
    '/grants/1/service',
    'adding orders, which does not offer billing-admin',
  );
  t.equal(
    (await alice('PATCH', '/admin/clients/alice-billing', { grants: [{ service: 'billing', scopes: [] }] })).statusCode,
    200,
    'narrowing the admin’s grant is theirs',
  );
  t.equal(
    (await alice('PATCH', '/admin/clients/alice-billing', { grants: [grantOf('billing')] })).statusCode,
    400,
    'and widening it back is not',
  );

  const issued = await server.token('alice-billing', secret, 'billing');
  t.match(issued.claims, { roles: ['billing-admin'], tenant: 'acme', service: 'billing' }, 'the token carries what the admin set');
  t.equal(issued.body.expires_in, 120);

  // Admins keep every field: a person with the admin role, and an admin client.
  const ada = await signIn(t, server.origin, 'ada');
  t.equal(
    (await ada('PATCH', '/admin/clients/alice-billing', { roles: ['superuser'], claims: {}, access_token_ttl: 86_400, token_quota: null }))
      .statusCode,
    200,
    'an admin sets anything on an operator’s client',
  );
  t.equal(
    (
      await server.admin('PATCH', '/admin/clients/alice-billing', {
        roles: ['billing-admin'],
        grants: [grantOf('billing'), grantOf('orders')],
      })
    ).statusCode,
    200,
    'and grants what the operator may not',
  );
});

/**
 * A client as the API shows it, less what a token request changes: last use is written a
 * moment after a token, so it may move between two reads around a refused change.
 */
function withoutUse(client: unknown): string {
  return JSON.stringify(client, (key, value) => (key.startsWith('last_used') ? undefined : value));
}

/** Claims that are not custom ones: those Portier sets itself. */
function customClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(claims).filter(([name]) => !RESERVED_CLAIMS.has(name) && name !== 'preferred_username' && name !== 'name'),
  );
}

t.test('property: no token of an operator’s client carries a role, claim, lifetime or quota an admin did not allow', async (t) => {
  const server = await portier(t);
  const alice = await signIn(t, server.origin, 'alice');

  // Two clients an admin made for Alice, with what no service offers; reset after each run.
  interface AdminFields {
    roles: string[];
    claims: Record<string, unknown>;
    access_token_ttl: number | null;
    token_quota: { per_hour: number | null; per_day: number | null; mode: 'enforce' | 'log' } | null;
    grants: Array<ReturnType<typeof grantOf>>;
  }
  const ADMIN_MADE: Record<string, AdminFields> = {
    'alice-admin-roles': {
      roles: ['billing-admin'],
      claims: { tenant: 'acme' },
      access_token_ttl: 120,
      token_quota: { per_hour: 5000, per_day: null, mode: 'enforce' },
      grants: [grantOf('billing')],
    },
    'alice-admin-long': { roles: [], claims: {}, access_token_ttl: 900, token_quota: null, grants: [grantOf('billing')] },
  };
  const secrets = new Map<string, string>();
  for (const [clientId, fields] of Object.entries(ADMIN_MADE)) {
    const made = await server.admin('POST', '/admin/clients', {
      client_id: clientId,
      name: clientId,
      owner: 'alice@example.com',
      ...fields,
    });
    t.equal(made.statusCode, 201);
    secrets.set(clientId, (made.json() as { client_secret: string }).client_secret);
  }
  const adminMade = (clientId: string) =>
    ADMIN_MADE[clientId as keyof typeof ADMIN_MADE] as (typeof ADMIN_MADE)[keyof typeof ADMIN_MADE] | undefined;

  const ROLES = ['reader', 'writer', 'admin', 'billing-admin', 'superuser'];
  const body = fc.record(
    {
      name: fc.constantFrom('A', 'B'),
      roles: fc.subarray(ROLES),
      grants: fc.subarray(SERVICE_IDS).map((ids) => ids.map(grantOf)),
      access_token_ttl: fc.constantFrom(null, 60, 120, 300, 600, 601, 900, 1200, 3600, 86_400),
      claims: fc.oneof(
        fc.constant({}),
        fc.constant({ tenant: 'acme' }),
        fc.dictionary(fc.constantFrom('tenant', 'team', 'service'), fc.constantFrom('all-tenants', 'acme', 1), { maxKeys: 2 }),
      ),
      token_quota: fc.constantFrom(null, {}, { per_hour: 5000 }, { per_hour: 5000, per_day: null, mode: 'enforce' }, { per_day: null }),
      ip_ranges: fc.constant([]),
      dpop_bound: fc.constant(false),
    },
    { requiredKeys: [] },
  );
  const run = fc.record({
    create: body,
    patches: fc.array(fc.record({ target: fc.constantFrom('own', 'alice-admin-roles', 'alice-admin-long'), body }), {
      maxLength: 3,
    }),
  });

  let counter = 0;
  let requests = 0;
  let refused = 0;
  /** Whether a token for `service` may carry `ttl`: the service's own lifetime, its offer, or the client's admin-set one on an admin's grant. */
  const allowedTtl = (clientId: string, service: ServiceId) => {
    const offered = SERVICES[service];
    const admin = adminMade(clientId);
    const adminTtl = admin?.grants.some((grant) => grant.service === service) ? (admin.access_token_ttl ?? 0) : 0;
    return Math.max(
      offered.access_token_ttl ?? SERVER_TTL,
      offered.self_service ? (offered.self_service_max_access_token_ttl ?? 0) : 0,
      adminTtl,
    );
  };
  const allowedRole = (clientId: string, service: ServiceId, role: string) => {
    const offered = SERVICES[service];
    if (offered.self_service && (offered.self_service_roles as readonly string[]).includes(role)) return true;
    const admin = adminMade(clientId);
    return admin?.roles.includes(role) === true && admin.grants.some((grant) => grant.service === service);
  };

  /** Sends one of Alice's changes; a refusal must leave the client exactly as it was. */
  const change = async (method: 'POST' | 'PATCH', clientId: string, payload: Record<string, unknown>) => {
    const before = method === 'PATCH' ? (await alice('GET', `/admin/clients/${clientId}`)).json() : undefined;
    const path = method === 'POST' ? '/admin/clients' : `/admin/clients/${clientId}`;
    const answer = await alice(method, path, method === 'POST' ? { client_id: clientId, ...payload } : payload);
    requests++;
    if (answer.statusCode >= 500) throw new Error(`${method} ${path} answered ${answer.statusCode}`);
    if (answer.statusCode === 403) {
      refused++;
      const problem = answer.json() as Problem;
      const field = problem.errors?.[0]?.path.split('/')[1];
      if (field === undefined || !(field in payload)) throw new Error(`a 403 naming no field of the request: ${JSON.stringify(problem)}`);
    }
    if (answer.statusCode >= 400) {
      const after = await alice('GET', `/admin/clients/${clientId}`);
      if (method === 'POST' && after.statusCode !== 404) throw new Error(`a refused create made ${clientId}`);
      if (method === 'PATCH' && withoutUse(after.json()) !== withoutUse(before)) throw new Error(`a refused PATCH changed ${clientId}`);
    }
    return answer;
  };

  /** Every token the client can get now, checked against what an admin allowed. */
  const checkTokens = async (clientId: string) => {
    const client = (await alice('GET', `/admin/clients/${clientId}`)).json() as {
      grants: Array<{ service: ServiceId }>;
      claims: Record<string, unknown>;
      token_quota: unknown;
    };
    const admin = adminMade(clientId);
    if (JSON.stringify(client.claims) !== JSON.stringify(admin?.claims ?? {}))
      throw new Error(`${clientId} has claims ${JSON.stringify(client.claims)}`);
    if (JSON.stringify(client.token_quota) !== JSON.stringify(admin?.token_quota ?? null)) {
      throw new Error(`${clientId} has the quota ${JSON.stringify(client.token_quota)}`);
    }
    for (const { service } of client.grants) {
      const issued = await server.token(clientId, secrets.get(clientId) ?? '', service);
      if (issued.status !== 200 || issued.claims === undefined)
        throw new Error(`no token for ${clientId} and ${service}: ${issued.status}`);
      for (const role of (issued.claims.roles as string[] | undefined) ?? []) {
        if (!allowedRole(clientId, service, role)) throw new Error(`${clientId}'s token for ${service} carries the role ${role}`);
      }
      const expected = { ...SERVICES[service].claims, ...(admin?.claims ?? {}) };
      const custom = customClaims(issued.claims);
      if (JSON.stringify(custom) !== JSON.stringify(expected))
        throw new Error(`${clientId}'s token for ${service} carries ${JSON.stringify(custom)}`);
      if ((issued.body.expires_in ?? Number.POSITIVE_INFINITY) > allowedTtl(clientId, service)) {
        throw new Error(`${clientId}'s token for ${service} lives ${issued.body.expires_in} s`);
      }
    }
  };

  await fc.assert(
    fc.asyncProperty(run, async ({ create, patches }) => {
      // Each run starts from the admin's clients as the admin made them (also after a failed
      // run, so that fast-check's shrinking replays runs alike).
      for (const [clientId, fields] of Object.entries(ADMIN_MADE)) {
        const reset = await server.admin('PATCH', `/admin/clients/${clientId}`, { name: clientId, ...fields });
        if (reset.statusCode !== 200) throw new Error(`resetting ${clientId}: ${reset.statusCode}`);
      }
      const own = `alice-prop-${counter++}`;
      const created = await change('POST', own, { name: 'Prop', ...create });
      if (created.statusCode === 201) secrets.set(own, (created.json() as { client_secret: string }).client_secret);
      for (const patch of patches) {
        const target = patch.target === 'own' ? own : patch.target;
        if (target === own && created.statusCode !== 201) continue;
        await change('PATCH', target, patch.body);
      }
      for (const clientId of [...(created.statusCode === 201 ? [own] : []), ...Object.keys(ADMIN_MADE)]) await checkTokens(clientId);
    }),
    { numRuns: 40, seed: 20_261_207 },
  );
  t.ok(requests > 60, `operator requests sent (${requests})`);
  t.ok(refused > 10, `of which refused with a 403 (${refused})`);
});
