import t from 'tap';
import type { FieldError } from '../../src/lib/errors.js';
import { assignClaims, checkClaims, MAX_CLAIMS_BYTES, RESERVED_CLAIMS, withoutReserved } from '../../src/policy/claims.js';
import { effectiveTtl, mergedClaims, PLAIN_SHAPE, TokenShapes } from '../../src/policy/shapes.js';

// The rules of custom claims and lifetimes as plain functions: what an admin may set, how
// a client's and its services' values combine, and what the token endpoint looks up.

const problems = (claims: Record<string, unknown>) => {
  const errors: FieldError[] = [];
  checkClaims(claims, errors);
  return errors;
};

t.test('reserved names, size and what jsonb cannot store are refused at /claims', async (t) => {
  t.same(problems({ tenant: 'acme', limits: { rps: 10 }, tags: ['a', 'b'], on: true, n: null }), [], 'any JSON values');
  for (const name of RESERVED_CLAIMS) {
    const errors = problems({ [name]: 'x', fine: 1 });
    t.equal(errors.length, 1, `${name} is refused`);
    t.equal(errors[0]?.path, '/claims');
    t.match(errors[0]?.message, `"${name}" is reserved`);
  }
  t.match(problems({ iss: 1, sub: 2 })[0]?.message, /"iss", "sub" are reserved/, 'all of them named at once');
  t.equal(RESERVED_CLAIMS.size, 20, "the 19 names of the contract, and Portier's own federated_identity");
  t.match(problems({ '': 1 })[0]?.message, /empty/);
  const fits = { blob: 'x'.repeat(MAX_CLAIMS_BYTES - '{"blob":""}'.length) };
  t.same(problems(fits), [], 'exactly 2048 bytes as JSON');
  t.match(problems({ blob: `${fits.blob}x` })[0]?.message, /at most 2048 bytes as JSON, is 2049/);
  t.match(problems({ blob: 'é'.repeat(1100) })[0]?.message, /at most 2048 bytes/, 'bytes, not characters');
  t.match(problems({ a: 'x\u0000y' })[0]?.message, /NUL/);
  t.match(problems({ deep: [{ 'a\u0000': 1 }] })[0]?.message, /NUL/, 'in nested names too');
  t.match(problems({ a: '\ud800' })[0]?.message, /surrogate/);
  t.same(problems({ a: '😀' }), [], 'a surrogate pair is a character');
});

t.test('withoutReserved and assignClaims', async (t) => {
  t.same(withoutReserved({ iss: 'evil', tenant: 'acme', roles: ['admin'] }), { kept: { tenant: 'acme' }, dropped: ['iss', 'roles'] });
  const parsed = JSON.parse('{"__proto__": {"polluted": true}, "tenant": "acme"}') as Record<string, unknown>;
  const target: Record<string, unknown> = { iss: 'me' };
  assignClaims(target, parsed);
  t.equal(Object.getPrototypeOf(target), Object.prototype, 'a claim named __proto__ does not change the prototype');
  t.same(JSON.parse(JSON.stringify(target)), { iss: 'me', __proto__: { polluted: true }, tenant: 'acme' }, 'it is a claim like any other');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('lifetime: the client, else the smallest of the services, else ACCESS_TOKEN_TTL', async (t) => {
  const service = (audience: string, accessTokenTtl: number | null) => ({ audience, accessTokenTtl, claims: {} });
  t.equal(effectiveTtl({ accessTokenTtl: 900, claims: {} }, [service('a', 60)]), 900, "the client's wins, even when longer");
  t.equal(effectiveTtl({ accessTokenTtl: null, claims: {} }, [service('a', 600), service('b', null), service('c', 300)]), 300);
  t.equal(effectiveTtl({ accessTokenTtl: null, claims: {} }, [service('a', null)]), undefined);
});

t.test('claims: services in the order asked for, the client over them', async (t) => {
  const a = { audience: 'https://a', accessTokenTtl: null, claims: { tier: 'a', from_a: 1 } };
  const b = { audience: 'https://b', accessTokenTtl: null, claims: { tier: 'b', from_b: 2 } };
  t.same(mergedClaims({ accessTokenTtl: null, claims: { from_a: 'client' } }, [a, b]), { tier: 'a', from_b: 2, from_a: 'client' });
  t.same(mergedClaims({ accessTokenTtl: null, claims: {} }, [b, a]), { tier: 'b', from_b: 2, from_a: 1 });
  t.equal(mergedClaims({ accessTokenTtl: null, claims: {} }, [{ ...a, claims: {} }]), undefined, 'none: undefined');
});

t.test('TokenShapes: worked out once per record, PLAIN_SHAPE without any policy', async (t) => {
  const plain = new TokenShapes({ accessTokenTtl: null, claims: {} }, [{ audience: 'https://a', accessTokenTtl: null, claims: {} }]);
  t.equal(plain.for([{ audience: 'https://a', accessTokenTtl: null, claims: {} }]), PLAIN_SHAPE);
  const a = { audience: 'https://a', accessTokenTtl: 600, claims: { api: 'a' } };
  const b = { audience: 'https://b', accessTokenTtl: 120, claims: { api: 'b' } };
  const shapes = new TokenShapes({ accessTokenTtl: null, claims: { team: 'x' } }, [a, b]);
  const one = shapes.for([a]);
  t.same(one, { ttl: 600, claims: { api: 'a', team: 'x' } });
  t.equal(shapes.for([a]), one, 'the same object every time: nothing is worked out per token');
  const both = shapes.for([b, a]);
  t.same(both, { ttl: 120, claims: { api: 'b', team: 'x' } });
  t.equal(shapes.for([b, a]), both, 'a set of services is remembered too');
  t.ok(Object.isFrozen(one.claims), 'shared claims cannot be changed by a token');
});
