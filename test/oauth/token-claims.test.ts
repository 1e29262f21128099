import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { isStorableJwtId } from '../../src/oauth/client-auth/jwt-ids.js';
import { TOKEN_BODY_LIMIT } from '../../src/oauth/routes.js';
import { ADMIN_ID, ADMIN_SECRET, basicAuth, buildWithAdmin } from '../helpers.js';

// The claims of access tokens signed with Portier's own key. Nobody but Portier can sign
// one, but a claim that reaches a lookup, a comparison or SQL must still be what Portier
// writes: a claim of the wrong type, length or characters is an unusable token (401
// invalid_token at /admin, {"active": false} at introspection, nothing done at revocation),
// never a 500. The tokens here are signed with the server's real active key.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

async function setup(t: Test) {
  const server = await buildWithAdmin(t);
  const base = decodeJwt(server.token) as Record<string, unknown>;
  /** A token like the admin's, signed with the active key, with these claims changed (undefined: left out). */
  const forge = async (changes: Record<string, unknown>): Promise<string> => {
    const claims: Record<string, unknown> = { ...base, jti: randomUUID() };
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) delete claims[name];
      else claims[name] = value;
    }
    return (await server.app.portier.keys.get()).active.signer.sign(claims);
  };
  return { ...server, forge };
}

const adminGet = (server: Server, url: string, token: string) =>
  server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

const oauthPost = (server: Server, url: string, token: string) =>
  server.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(ADMIN_ID, ADMIN_SECRET) },
    payload: new URLSearchParams({ token }).toString(),
  });

/** Every route that takes a token, asked with this one: the admin API, introspection, revocation. */
async function everyRoute(server: Server, token: string) {
  return {
    keys: await adminGet(server, '/admin/keys', token),
    client: await adminGet(server, `/admin/clients/${ADMIN_ID}`, token),
    audit: await adminGet(server, '/admin/audit-events?limit=1', token),
    introspection: await oauthPost(server, '/oauth/introspect', token),
    revocation: await oauthPost(server, '/oauth/revoke', token),
  };
}

const NUL = '\u0000';
const HUGE = 'a'.repeat(20_000);

/** Claims Portier reads from a verified token, each with values that are not what Portier writes. */
const HOSTILE: Array<[claim: string, values: unknown[]]> = [
  ['client_id', [`root${NUL}admin`, `${ADMIN_ID}${NUL}`, HUGE, 42, [ADMIN_ID], { id: ADMIN_ID }, null, 'ROOT-ADMIN', undefined]],
  ['sub', [`${NUL}`, 'not-a-uuid', HUGE, 7, [randomUUID()], {}, null, undefined]],
  ['jti', [`a${NUL}b`, HUGE, 12, ['x'], { a: 1 }, '', null, undefined, 'tab\there']],
  [
    'scope',
    [
      `admin:write${NUL}`,
      42,
      ['admin:write'],
      { scope: 'admin:write' },
      null,
      `admin:write ${'x'.repeat(70_000)}`,
      'admin:write\nadmin:read',
    ],
  ],
  ['exp', [1e20, 2 ** 53, 9_999_999_999_999, 1.5e12, Number.MAX_SAFE_INTEGER]],
  ['iat', [1e300, -1e300, 0.5, 1e20]],
  ['aud', [{ a: 1 }, [], [42], [`x${NUL}`], [HUGE], 5]],
  ['cnf', ['jkt', 5, [], { jkt: 5 }, { jkt: `${NUL}` }, { jkt: HUGE }, { jkt: ['a'] }, null]],
];

t.test('a claim that is not what Portier writes makes the token unusable, on every route that takes one', async (t) => {
  const server = await setup(t);
  for (const [claim, values] of HOSTILE) {
    for (const value of values) {
      const label = `${claim}: ${JSON.stringify(value)?.slice(0, 40) ?? 'left out'}`;
      const token = await server.forge({ [claim]: value });
      const answers = await everyRoute(server, token);
      for (const route of ['keys', 'client', 'audit'] as const) {
        const answer = answers[route];
        t.equal(answer.statusCode, 401, `${label}: /admin ${route} answers 401`);
        t.match(answer.headers['www-authenticate'], /error="invalid_token"/, `${label}: /admin ${route} says invalid_token`);
      }
      if (token.length > TOKEN_BODY_LIMIT) {
        // Too large for a form body at all: refused before anything reads it.
        t.equal(answers.introspection.statusCode, 413, `${label}: too large for introspection`);
        t.equal(answers.revocation.statusCode, 413, `${label}: too large for revocation`);
        continue;
      }
      t.equal(answers.introspection.statusCode, 200, `${label}: introspection answers 200`);
      t.same(answers.introspection.json(), { active: false }, `${label}: introspection says inactive`);
      t.equal(answers.revocation.statusCode, 200, `${label}: revocation answers as for an unusable token`);
    }
  }
  // The same token with nothing hostile in it still works (the checks refuse the claims, not the tokens).
  const fine = await everyRoute(server, await server.forge({}));
  t.equal(fine.keys.statusCode, 200, 'a forged token with good claims is accepted');
  t.equal(fine.introspection.json().active, true);
});

t.test('the reported issue: a NUL in client_id is a 401 at /admin and inactive at introspection, not a 500', async (t) => {
  const server = await setup(t);
  const token = await server.forge({ client_id: `root${NUL}admin` });
  const keys = await adminGet(server, '/admin/keys', token);
  t.equal(keys.statusCode, 401);
  t.match(keys.headers['www-authenticate'], /^Bearer realm="portier-admin", error="invalid_token"/);
  const introspection = await oauthPost(server, '/oauth/introspect', token);
  t.equal(introspection.statusCode, 200);
  t.same(introspection.json(), { active: false });
});

t.test('introspection answers from checked claims only', async (t) => {
  const server = await setup(t);
  // Claims Portier does not use are neither checked nor echoed.
  const token = await server.forge({ preferred_username: { evil: NUL }, name: 42, roles: 'x', extra: [NUL] });
  const body = (await oauthPost(server, '/oauth/introspect', token)).json();
  t.equal(body.active, true);
  t.equal(body.username, `service-account-${ADMIN_ID}`, 'the user name follows from the checked client_id');
  t.notOk(JSON.stringify(body).includes('evil'), 'unused claims are not echoed');
});

// ---------------------------------------------------------------------------------------
// Property: hostile values anywhere in the claims, never a 5xx.
// ---------------------------------------------------------------------------------------

const CLAIMS = ['client_id', 'sub', 'jti', 'scope', 'exp', 'iat', 'nbf', 'aud', 'iss', 'cnf', 'preferred_username', 'name', 'roles'];

/** Values no claim should hold: NUL and other control characters, long strings, wrong types, arrays, objects. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string().map((text) => `${text}${NUL}${text}`),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.nat({ max: 30_000 }).map((length) => 'é'.repeat(length)),
  fc.constantFrom(ADMIN_ID, `${ADMIN_ID}${NUL}`, 'admin:write', 'admin:write admin:read', '', ' ', '\ud800'),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e20, -1, 0, 2 ** 53, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(NUL)), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer(), fc.constant(NUL)), { maxKeys: 3 }),
  fc.record({ jkt: fc.oneof(fc.string(), fc.integer(), fc.constant(NUL), fc.constant([])) }),
);

const hostileClaims = fc.dictionary(fc.constantFrom(...CLAIMS), fc.option(hostileValue, { nil: undefined }), {
  minKeys: 1,
  maxKeys: 4,
});

t.test('property: tokens signed with the real key and hostile claims never get a 5xx', async (t) => {
  const server = await setup(t);
  let requests = 0;
  await fc.assert(
    fc.asyncProperty(hostileClaims, async (changes) => {
      const answers = await everyRoute(server, await server.forge(changes));
      for (const [route, answer] of Object.entries(answers)) {
        requests += 1;
        if (answer.statusCode >= 500) throw new Error(`${route} answered ${answer.statusCode}: ${answer.body.slice(0, 200)}`);
      }
      for (const route of ['keys', 'client', 'audit'] as const) {
        if (![200, 401, 403].includes(answers[route].statusCode)) throw new Error(`/admin ${route} answered ${answers[route].statusCode}`);
      }
      const introspection = answers.introspection.json() as Record<string, unknown>;
      if (introspection.active === true) {
        // Whatever was accepted is what Portier writes.
        if (introspection.client_id !== ADMIN_ID) throw new Error(`accepted client_id ${JSON.stringify(introspection.client_id)}`);
        if (!isStorableJwtId(introspection.jti)) throw new Error('accepted a bad jti');
        if (typeof introspection.scope !== 'string' || introspection.scope.includes(NUL)) throw new Error('accepted a bad scope');
      }
    }),
    { numRuns: 150, seed: 20_261_219 },
  );
  t.ok(requests >= 150 * 5, `${requests} requests, none answered 5xx`);
  t.equal((await adminGet(server, '/admin/keys', server.token)).statusCode, 200, 'the real admin token still works afterwards');
});
