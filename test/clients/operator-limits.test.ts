import t from 'tap';
import { type ClientShape, newClientShape, type Offers, operatorDenial } from '../../src/clients/operator-limits.js';
import type { SelfServiceOffer } from '../../src/services/services.js';

/**
 * The operator's limits as a plain function (src/clients/operator-limits.ts): what an
 * operator's create or PATCH may set, given the client as it is and what its services offer.
 * The same rule through the admin API, a real identity provider and the tokens is
 * test/people/operator-limits.test.ts.
 */

const offer = (roles: string[], maxAccessTokenTtl: number | null = null): SelfServiceOffer => ({ roles, maxAccessTokenTtl });
const OFFERS: Offers = new Map([
  ['orders', offer(['reader', 'writer'], 600)],
  ['reports', offer(['reader'])],
  ['sandbox', offer(['admin'], 1200)],
]);
const grant = (service: string) => ({ service, scopes: [] });
const client = (changes: Partial<ClientShape> = {}): ClientShape => ({ ...newClientShape('alice@example.com'), ...changes });

t.test('what operators set freely, and an unchanged value of anything', async (t) => {
  const free = {
    client_id: 'alice-app',
    name: 'App',
    description: 'mine',
    first_name: 'A',
    last_name: null,
    grants: [grant('orders')],
    ip_ranges: ['192.0.2.0/24'],
    expires_at: '2099-01-01T00:00:00Z',
    dpop_bound: true,
    auth_method: 'private_key_jwt',
    jwks: { keys: [] },
    jwks_uri: null,
  };
  t.equal(operatorDenial(free, client(), OFFERS), undefined, 'the free fields');
  const adminMade = client({
    roles: ['billing-admin'],
    claims: { tenant: 'acme', nested: { a: 1, b: 2 } },
    access_token_ttl: 120,
    token_quota: { per_hour: 5, per_day: null, mode: 'enforce' },
    grants: [grant('billing')],
  });
  const wholeForm = {
    name: 'Renamed',
    roles: ['billing-admin'],
    claims: { nested: { b: 2, a: 1 }, tenant: 'acme' },
    access_token_ttl: 120,
    token_quota: { per_hour: 5 },
    owner: 'alice@example.com',
  };
  t.equal(operatorDenial(wholeForm, adminMade, OFFERS), undefined, 'a form sent whole, repeating what an admin set (members in any order)');
});

t.test('what only an admin sets: each refused by its field', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['another owner', { owner: 'bob@example.com' }, '/owner', /someone else's/],
    ['platform identities', { auth_method: 'federated' }, '/auth_method', /platform identities/],
    ['identities alone', { federated_identities: [{ issuer: 'k8s', subject: 'x' }] }, '/federated_identities', /platform identities/],
    ['custom claims', { claims: { tenant: 'all-tenants' } }, '/claims', /set by an admin/],
    ['a quota of its own, left empty', { token_quota: {} }, '/token_quota', /set by an admin/],
    ['no quota at all instead of the default', { token_quota: { per_hour: null, per_day: null } }, '/token_quota', /set by an admin/],
    ['roles no service offers', { roles: ['billing-admin', 'superuser'] }, '/roles', /choose none/],
    ['a lifetime no service offers', { access_token_ttl: 86_400 }, '/access_token_ttl', /choose none/],
    ['a field this rule does not know', { future_power: 'max' }, '/future_power', /only an admin can set future_power/],
  ];
  for (const [what, change, path, message] of cases) {
    const denial = operatorDenial(change, client(), OFFERS);
    t.equal(denial?.path, path, `${what}: ${path}`);
    t.match(denial?.message, message, what);
  }
});

t.test('roles and lifetimes within what every service of the client offers', async (t) => {
  const orders = client({ grants: [grant('orders')] });
  t.equal(operatorDenial({ roles: ['reader', 'writer'] }, orders, OFFERS), undefined, 'orders offers reader and writer');
  t.match(operatorDenial({ roles: ['admin'] }, orders, OFFERS), { path: '/roles', message: /\(reader, writer\), not admin/ });
  t.equal(operatorDenial({ access_token_ttl: 600 }, orders, OFFERS), undefined, 'up to orders’ maximum');
  t.match(operatorDenial({ access_token_ttl: 601 }, orders, OFFERS), { path: '/access_token_ttl', message: /at most 600 s/ });
  t.match(
    operatorDenial({ access_token_ttl: null }, client({ grants: [grant('orders')], access_token_ttl: 300 }), OFFERS),
    { path: '/access_token_ttl', message: /only an admin can clear/ },
    'clearing a lifetime may lengthen the tokens',
  );

  const both = { grants: [grant('orders'), grant('reports')] };
  t.match(operatorDenial({ ...both, roles: ['writer'] }, client(), OFFERS), { path: '/roles' }, 'reports does not offer writer');
  t.equal(operatorDenial({ ...both, roles: ['reader'] }, client(), OFFERS), undefined, 'both offer reader');
  t.match(
    operatorDenial({ ...both, access_token_ttl: 300 }, client(), OFFERS),
    { path: '/access_token_ttl' },
    'reports offers no lifetime',
  );
  t.match(
    operatorDenial({ grants: [grant('orders'), grant('billing')], roles: ['reader'] }, client(), OFFERS),
    { path: '/roles' },
    'a service not open to self-service offers nothing, whatever it lists',
  );
  t.match(operatorDenial({ roles: ['reader'] }, client(), OFFERS), { path: '/roles', message: /choose none/ }, 'no grants: no roles');
});

t.test('a service added gets the client’s roles and lifetime: they must be within its offer', async (t) => {
  const sandboxAdmin = client({ grants: [grant('sandbox')], roles: ['admin'], access_token_ttl: 900 });
  const added = operatorDenial({ grants: [grant('sandbox'), grant('orders')] }, sandboxAdmin, OFFERS);
  t.match(added, { path: '/grants/1/service', message: /"orders" does not offer operators the client's roles admin/ });
  t.match(
    operatorDenial({ grants: [grant('orders')] }, client({ grants: [], access_token_ttl: 900 }), OFFERS),
    { path: '/grants/0/service', message: /lifetime of 900 s/ },
    'a lifetime longer than the added service offers',
  );
  t.match(
    operatorDenial(
      { grants: [grant('billing'), grant('orders')] },
      client({ grants: [grant('billing')], roles: ['billing-admin'] }),
      OFFERS,
    ),
    { path: '/grants/1/service' },
    'an admin’s roles too: Portier cannot tell them from an operator’s',
  );
  t.match(
    operatorDenial({ grants: [grant('orders')], roles: [] }, sandboxAdmin, OFFERS),
    { path: '/grants/0/service', message: /lifetime of 900 s/ },
    'dropping the role is not enough while the lifetime is longer than orders offers',
  );
  t.equal(
    operatorDenial({ grants: [grant('orders')], roles: [], access_token_ttl: 600 }, sandboxAdmin, OFFERS),
    undefined,
    'dropping the role sandbox offered and lowering the lifetime within orders’ offer: one change',
  );
});

t.test('roles an admin gave beyond the offer stay: only offered roles are removed', async (t) => {
  const mixed = client({ grants: [grant('orders')], roles: ['billing-admin', 'reader'] });
  t.equal(operatorDenial({ roles: ['billing-admin'] }, mixed, OFFERS), undefined, 'reader, which orders offers, may go');
  t.match(operatorDenial({ roles: ['reader'] }, mixed, OFFERS), {
    path: '/roles',
    message: /only an admin can remove the roles billing-admin/,
  });
  t.equal(
    operatorDenial({ roles: ['billing-admin', 'reader', 'writer'] }, mixed, OFFERS),
    undefined,
    'and writer may be added beside them',
  );
});
