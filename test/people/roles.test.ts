import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { personFromClaims, SignInRefused } from '../../src/people/person.js';
import { claimValue, groupsIn, roleFor } from '../../src/people/roles.js';

/** Who a person is and which role they get, from their claims: plain functions, no provider. */

const rules = (env: Record<string, string> = {}) => {
  const oidc = loadConfig({ OIDC_ISSUER: 'https://sso.example', OIDC_CLIENT_ID: 'portier', OIDC_CLIENT_SECRET: 's', ...env }).oidc;
  if (oidc === undefined) throw new Error('no oidc');
  return oidc;
};

t.test('claimValue: a claim by name, or a dotted path when no claim has that name', async (t) => {
  const claims = { groups: ['a'], realm_access: { roles: ['admin'] }, 'https://example.com/roles': ['x'], 'a.b': 1, a: { b: 2 } };
  t.same(claimValue(claims, 'groups'), ['a']);
  t.same(claimValue(claims, 'realm_access.roles'), ['admin'], "Keycloak's realm roles");
  t.same(claimValue(claims, 'https://example.com/roles'), ['x'], 'a namespaced claim (Auth0) is a name, not a path');
  t.equal(claimValue(claims, 'a.b'), 1, 'a claim of that name wins over the path');
  t.equal(claimValue(claims, 'realm_access.missing'), undefined);
  t.equal(claimValue(claims, 'groups.length'), undefined, 'arrays are not walked into');
  t.equal(claimValue({ toString: 'x' } as Record<string, unknown>, 'constructor'), undefined, 'only own properties');
});

t.test('groupsIn and roleFor: admin before auditor before operator; `*` is anyone', async (t) => {
  t.same(groupsIn(['a', 3, 'b', null]), ['a', 'b']);
  t.same(groupsIn('portier-admin'), ['portier-admin'], 'a single string is one group');
  t.same(groupsIn(''), []);
  t.same(groupsIn({ a: 1 }), []);
  const defaults = rules();
  t.equal(roleFor(['portier-auditor', 'portier-admin'], defaults), 'admin');
  t.equal(roleFor(['portier-auditor'], defaults), 'auditor');
  t.equal(roleFor([], defaults), 'operator', 'OIDC_OPERATOR_ROLES=* : anyone is an operator');
  const strict = rules({ OIDC_OPERATOR_ROLES: 'dev, ops', OIDC_ADMIN_ROLES: 'Portier Admins' });
  t.equal(roleFor(['ops'], strict), 'operator');
  t.equal(roleFor(['Portier Admins'], strict), 'admin', 'group names may hold spaces');
  t.equal(roleFor(['marketing'], strict), undefined, 'in none of the groups: no role');
});

t.test('personFromClaims: subject, name, owner, role, and the refusals that name the claim', async (t) => {
  const base = { sub: 'u-1', email: 'ann@example.com', email_verified: true, name: 'Ann', groups: ['portier-auditor'] };
  t.same(personFromClaims('https://sso.example', base, rules()), {
    subject: 'https://sso.example#u-1',
    name: 'Ann',
    owner: 'ann@example.com',
    role: 'auditor',
  });
  t.equal(personFromClaims('https://sso.example', { ...base, name: ' ' }, rules()).name, 'ann@example.com', 'no name: the email');
  const byUsername = personFromClaims(
    'https://sso.example',
    { sub: 'u-2', preferred_username: 'ann' },
    rules({ OIDC_OWNER_CLAIM: 'preferred_username' }),
  );
  t.match(byUsername, { owner: 'ann', name: 'ann', role: 'operator' }, 'another owner claim; no name or email: the owner');

  const refused = (claims: Record<string, unknown>, message: RegExp, env: Record<string, string> = {}) => {
    try {
      personFromClaims('https://sso.example', claims, rules(env));
      t.fail(`refused: ${message}`);
    } catch (error) {
      t.ok(error instanceof SignInRefused, `a SignInRefused: ${message}`);
      t.match((error as Error).message, message);
    }
  };
  refused({ ...base, email: undefined }, /no "email" claim/);
  refused({ ...base, email: '' }, /no "email" claim/);
  refused({ sub: 'u-3' }, /no "upn" claim.*OIDC_OWNER_CLAIM/, { OIDC_OWNER_CLAIM: 'upn' });
  refused({ ...base, email: 'two words@example.com' }, /not usable as an owner/);
  refused({ ...base, email: ['a@example.com'] }, /not usable as an owner/);
  refused({ ...base, email_verified: false }, /not verified/);
  refused({ ...base, sub: undefined }, /no subject/);
  refused({ ...base, groups: ['marketing'] }, /none of the groups.*"groups"/, { OIDC_OPERATOR_ROLES: 'dev' });
  t.equal(
    personFromClaims(
      'https://sso.example',
      { ...base, email_verified: false, preferred_username: 'ann' },
      rules({ OIDC_OWNER_CLAIM: 'preferred_username' }),
    ).owner,
    'ann',
    'an unverified email does not matter when the owner is not the email',
  );
});
