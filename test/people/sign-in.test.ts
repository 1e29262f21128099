import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { buildWithAdmin, captureLogs, freePort } from '../helpers.js';
import { ssoConfig, startIdp, type TestIdp } from './idp.js';
import { callbackHop, callbackUrlFromIdp, signInThroughIdp, UserAgent } from './user-agent.js';

/**
 * People's sign-in through a real OpenID Connect provider (node-oidc-provider on
 * 127.0.0.2), driven through real HTTP redirects between it and Portier listening on
 * 127.0.0.1: the authorization code flow with PKCE, what the session cookie is, and
 * everything a sign-in must refuse. One provider for the file; each test gets a Portier
 * of its own, on one of the ports registered at the provider.
 */

const PORTS = await Promise.all(Array.from({ length: 10 }, () => freePort()));
const ORIGINS = PORTS.map((port) => `http://127.0.0.1:${port}`);
const idp: TestIdp = await startIdp(t, { redirectUris: ORIGINS.map((origin) => `${origin}/console/auth/callback`) });
let nextPort = 0;

/** A Portier with SSO through the file's provider, listening on the next registered port. */
async function portier(t: Test, env: Record<string, string> = {}, logger = captureLogs('info')) {
  const index = nextPort++;
  const port = PORTS[index];
  const origin = ORIGINS[index];
  if (port === undefined || origin === undefined) throw new Error('no registered port left: add one to PORTS');
  const server = await buildWithAdmin(t, { config: ssoConfig(idp, origin, env), logger: logger.logger });
  await server.app.listen({ port, host: '127.0.0.1' });
  return { ...server, origin, logs: logger };
}

t.test('an operator signs in: code flow with PKCE through the provider, then a session cookie', async (t) => {
  const server = await portier(t);
  const ua = new UserAgent();
  const hops = await signInThroughIdp(ua, server.origin, 'alice');

  const start = hops[0];
  t.equal(start?.status, 302, 'GET /console/auth/login answers 302');
  const authorize = new URL(start?.location ?? '');
  t.equal(authorize.origin, idp.issuer, 'to the provider');
  const params = authorize.searchParams;
  t.equal(params.get('response_type'), 'code');
  t.equal(params.get('client_id'), idp.clientId);
  t.equal(params.get('redirect_uri'), `${server.origin}/console/auth/callback`, 'the redirect URI is <ISSUER>/console/auth/callback');
  t.equal(params.get('code_challenge_method'), 'S256', 'PKCE with S256');
  t.match(params.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  t.match(params.get('state'), /^[A-Za-z0-9_-]{20,}$/, 'a state');
  t.match(params.get('nonce'), /^[A-Za-z0-9_-]{20,}$/, 'a nonce');
  t.equal(params.get('scope'), 'openid profile email');
  const loginCookie = start?.setCookies.find((line) => line.startsWith('portier_login='));
  t.match(
    loginCookie,
    /; Path=\/console\/auth; Max-Age=600; HttpOnly; SameSite=Lax$/,
    'the sign-in is remembered in a short-lived, path-bound cookie',
  );
  t.notOk(loginCookie?.includes(params.get('state') ?? '-'), 'which is sealed: the state is not readable in it');

  const callback = callbackHop(hops);
  t.equal(callback.status, 302, 'the callback answers 302');
  t.equal(callback.location, '/console/clients', 'to the console');
  const sessionCookie = callback.setCookies.find((line) => line.startsWith('portier_session='));
  t.match(
    sessionCookie,
    /^portier_session=portier_st_[A-Za-z0-9_-]{65}; Path=\/; HttpOnly; SameSite=Lax$/,
    'HttpOnly, SameSite=Lax, Path=/, not Secure over http',
  );
  t.ok(
    callback.setCookies.some((line) => /^portier_login=; .*Max-Age=0/.test(line)),
    'and the login cookie is cleared',
  );

  const session = await ua.request(`${server.origin}/console/auth/session`);
  t.equal(session.status, 200);
  t.same(
    JSON.parse(session.body),
    {
      sign_in: { sso: { name: 'Test IdP', available: true }, client: true },
      person: {
        name: 'Alice Operator',
        owner: 'alice@example.com',
        role: 'operator',
        subject: `${idp.issuer}#alice-0001`,
        expires_at: JSON.parse(session.body).person.expires_at,
      },
    },
    'the console learns who signed in; the owner (email) came from userinfo, the provider put it in no ID token',
  );

  const clients = await ua.request(`${server.origin}/admin/clients`);
  t.equal(clients.status, 200, 'the admin API takes the session cookie');

  t.notOk(server.logs.text().includes(ua.cookie('127.0.0.1', 'portier_session') ?? '-'), 'the session cookie never reaches the log');
  t.match(server.logs.text(), /person signed in to the console/);
});

t.test('over https the cookies are Secure and __Host- / __Secure- prefixed', async (t) => {
  const { CookieNames } = await import('../../src/people/cookies.js');
  const names = new CookieNames(true);
  t.equal(names.sessionCookie('v'), '__Host-portier_session=v; Path=/; HttpOnly; SameSite=Lax; Secure');
  t.match(names.loginCookie('v'), /^__Secure-portier_login=v; Path=\/console\/auth; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/);
  t.match(names.clearSession(), /^__Host-portier_session=; Path=\/; Max-Age=0; .*Secure$/);
});

/** The session cookie the callback set, or undefined. */
function sessionCookieOf(hops: Array<{ setCookies: string[] }>): string | undefined {
  for (const hop of hops) {
    const line = hop.setCookies.find((candidate) => candidate.startsWith('portier_session=portier_st_'));
    if (line !== undefined) return line.slice('portier_session='.length).split(';')[0];
  }
  return undefined;
}

async function sessionRows(server: { database: { db: import('../../src/db/connect.js').Db } }) {
  const { consoleSessions } = await import('../../src/db/schema.js');
  return server.database.db.select().from(consoleSessions);
}

t.test('a callback that is not this browser’s, replayed, late or without state: 400 and no session', async (t) => {
  const server = await portier(t);

  // The attacker's sign-in, finished at the provider, sent to the victim's browser (login CSRF).
  const attacker = new UserAgent();
  const forged = await callbackUrlFromIdp(attacker, server.origin, 'bob');
  const victim = new UserAgent();
  let hop = await victim.request(forged);
  t.equal(hop.status, 400, 'no login cookie in this browser: 400');
  t.match(hop.body, /does not belong to this browser/);
  t.notOk(sessionCookieOf([hop]), 'no session');

  // The victim has a sign-in of their own under way: the attacker's state is not theirs.
  await victim.follow(`${server.origin}/console/auth/login`);
  hop = await victim.request(forged);
  t.equal(hop.status, 400, 'another sign-in’s state: 400');
  t.notOk(sessionCookieOf([hop]), 'no session');

  // Missing state.
  await victim.follow(`${server.origin}/console/auth/login`);
  const withoutState = new URL(forged);
  withoutState.searchParams.delete('state');
  hop = await victim.request(withoutState.href);
  t.equal(hop.status, 400, 'no state: 400');

  // The attacker's own callback works once; replayed with its login cookie, it is refused.
  const loginCookie = attacker.cookie('127.0.0.1', 'portier_login') ?? '';
  const first = await attacker.request(forged);
  t.equal(first.status, 302, 'the genuine callback signs in');
  t.ok(sessionCookieOf([first]));
  const replay = await new UserAgent().request(forged, { headers: { cookie: `portier_login=${loginCookie}` } });
  t.equal(replay.status, 400, 'the same state again, even with its cookie: 400');
  t.notOk(sessionCookieOf([replay]), 'no session');

  // A sign-in left more than 10 minutes at the provider.
  const slow = new UserAgent();
  const late = await callbackUrlFromIdp(slow, server.origin, 'alice');
  server.clock.advance(11 * 60_000);
  hop = await slow.request(late);
  t.equal(hop.status, 400, 'a sign-in older than 10 minutes: 400');
  t.notOk(sessionCookieOf([hop]), 'no session');

  // An altered login cookie.
  const altered = new UserAgent();
  const url = await callbackUrlFromIdp(altered, server.origin, 'alice');
  const sealed = altered.cookie('127.0.0.1', 'portier_login') ?? '';
  altered.setCookie('127.0.0.1', 'portier_login', `${sealed.slice(0, -2)}${sealed.endsWith('A') ? 'B' : 'A'}A`, '/console/auth');
  hop = await altered.request(url);
  t.equal(hop.status, 400, 'an altered login cookie: 400');

  t.equal((await sessionRows(server)).length, 1, 'the one genuine sign-in is the only session');
});

t.test('an ID token of another audience or issuer, or with a bad signature, is refused', async (t) => {
  const server = await portier(t);
  t.teardown(() => {
    idp.tamperIdToken = undefined;
  });
  const cases: Array<[string, (idToken: string) => Promise<string>]> = [
    ['another audience', (idToken) => idp.resign(idToken, { aud: 'another-client' })],
    ['another issuer', (idToken) => idp.resign(idToken, { iss: 'https://evil.example' })],
    ['a signature by another key', (idToken) => idp.resign(idToken, {}, 'stranger')],
    ['another nonce', (idToken) => idp.resign(idToken, { nonce: 'not-the-one-portier-sent' })],
    ['expired', (idToken) => idp.resign(idToken, { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 })],
  ];
  for (const [what, tamper] of cases) {
    idp.tamperIdToken = tamper;
    const hop = callbackHop(await signInThroughIdp(new UserAgent(), server.origin, 'alice'));
    t.equal(hop.status, 502, `${what}: refused`);
    t.match(hop.body, /could not be verified/, `${what}: the person is told`);
    t.notOk(sessionCookieOf([hop]), `${what}: no session`);
  }
  idp.tamperIdToken = undefined;
  t.equal((await sessionRows(server)).length, 0, 'no session was written');
  t.match(server.logs.text(), /console sign-in refused/, 'the reason goes to the log');
  const ok = callbackHop(await signInThroughIdp(new UserAgent(), server.origin, 'alice'));
  t.equal(ok.status, 302, 'the provider’s own ID token is accepted again');
});

t.test('who may sign in: the owner claim, a verified email, a group that gives a role', async (t) => {
  const server = await portier(t, { OIDC_OPERATOR_ROLES: 'developers,partners' });
  let hop = callbackHop(await signInThroughIdp(new UserAgent(), server.origin, 'nomail'));
  t.equal(hop.status, 403, 'no email claim: refused');
  t.match(hop.body, /has no &quot;email&quot; claim/, 'the page names the claim');
  t.match(hop.body, /<link rel="stylesheet" href="\/console\/page\.css">/, 'in the console’s style (its CSP allows the same origin)');
  t.notOk(sessionCookieOf([hop]));

  const alice = idp.accounts.get('alice');
  if (alice === undefined) throw new Error('no alice');
  alice.emailVerified = false;
  hop = callbackHop(await signInThroughIdp(new UserAgent(), server.origin, 'alice'));
  alice.emailVerified = true;
  t.equal(hop.status, 403, 'an email the provider has not verified: refused');
  t.match(hop.body, /not verified/);

  alice.groups = ['marketing'];
  hop = callbackHop(await signInThroughIdp(new UserAgent(), server.origin, 'alice'));
  alice.groups = ['developers'];
  t.equal(hop.status, 403, 'in none of the groups of OIDC_*_ROLES: refused');
  t.match(hop.body, /none of the groups/);
  t.equal((await sessionRows(server)).length, 0, 'no session');
});

t.test('roles are read again at each sign-in, for every session of the person', async (t) => {
  const server = await portier(t);
  const ada = idp.accounts.get('ada');
  if (ada === undefined) throw new Error('no ada');
  t.teardown(() => {
    ada.groups = ['portier-admin', 'developers'];
  });
  const first = new UserAgent();
  await signInThroughIdp(first, server.origin, 'ada');
  t.equal((await first.request(`${server.origin}/admin/keys`)).status, 200, 'an admin reads the keys');

  ada.groups = ['developers'];
  const second = new UserAgent();
  await signInThroughIdp(second, server.origin, 'ada');
  t.equal(
    JSON.parse((await second.request(`${server.origin}/console/auth/session`)).body).person.role,
    'operator',
    'demoted at the provider: an operator',
  );
  t.equal((await second.request(`${server.origin}/admin/keys`)).status, 403, 'the new session cannot read the keys');
  t.equal((await first.request(`${server.origin}/admin/keys`)).status, 403, 'nor can the session from before');
});

t.test('CSRF: a change made with the session cookie needs Portier’s Origin; Bearer requests do not', async (t) => {
  const server = await portier(t);
  const ua = new UserAgent();
  await signInThroughIdp(ua, server.origin, 'alice');
  const create = (name: string, headers: Record<string, string>) =>
    ua.request(`${server.origin}/admin/clients`, {
      method: 'POST',
      body: JSON.stringify({ client_id: name, name }),
      headers: { 'content-type': 'application/json', ...headers },
    });
  for (const [what, headers] of [
    ['no Origin', {}],
    ['another site', { origin: 'http://evil.example' }],
    ['the provider', { origin: idp.issuer }],
    ['Origin null', { origin: 'null' }],
    ['another port', { origin: 'http://127.0.0.1:1' }],
  ] as const) {
    const refused = await create('csrf-victim', headers);
    t.equal(refused.status, 403, `${what}: 403`);
    t.match(JSON.parse(refused.body), { status: 403, detail: /must come from/ });
  }
  t.equal((await server.admin('GET', '/admin/clients/csrf-victim')).statusCode, 404, 'and nothing was created');
  const deleted = await ua.request(`${server.origin}/admin/clients/csrf-victim`, { method: 'DELETE' });
  t.equal(deleted.status, 403, 'a DELETE without Origin is refused before anything is looked up');

  const made = await create('alice-app', { origin: server.origin });
  t.equal(made.status, 201, 'with Portier’s Origin: created');
  t.match(JSON.parse(made.body), { owner: 'alice@example.com', created_by: `${idp.issuer}#alice-0001`, created_by_name: 'Alice Operator' });
  t.equal((await ua.request(`${server.origin}/admin/clients/alice-app`)).status, 200, 'reading needs no Origin');

  const bearer = await server.admin('POST', '/admin/clients', { client_id: 'by-bearer', name: 'By bearer', owner: 'ops' });
  t.equal(bearer.statusCode, 201, 'a Bearer request without Origin is unaffected');
  const both = await ua.request(`${server.origin}/admin/keys`, { headers: { authorization: `Bearer ${server.token}` } });
  t.equal(both.status, 200, 'with a Bearer token the cookie is not even looked at (an operator could not read keys)');
});

t.test('a cookie that was altered, made up or ended: 401', async (t) => {
  const server = await portier(t);
  const ua = new UserAgent();
  await signInThroughIdp(ua, server.origin, 'alice');
  const cookie = ua.cookie('127.0.0.1', 'portier_session') ?? '';
  const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
  for (const [what, value] of [
    ['a token character changed', flip(cookie, 20)],
    ['a MAC character changed', flip(cookie, cookie.length - 3)],
    ['cut short', cookie.slice(0, -1)],
    ['made up', `portier_st_${'A'.repeat(65)}`],
    ['not a token at all', 'hello'],
  ] as const) {
    const response = await server.app.inject({ method: 'GET', url: '/admin/clients', headers: { cookie: `portier_session=${value}` } });
    t.equal(response.statusCode, 401, `${what}: 401`);
    t.match(response.json(), { status: 401 });
    t.equal(response.headers['www-authenticate'], 'Bearer realm="portier-admin"');
  }
  const genuine = await server.app.inject({
    method: 'GET',
    url: '/admin/clients',
    headers: { cookie: `other=1; portier_session=${cookie}` },
  });
  t.equal(genuine.statusCode, 200, 'the genuine cookie still works');
  const none = await server.app.inject({ method: 'GET', url: '/admin/clients', headers: { cookie: 'other=1' } });
  t.equal(none.statusCode, 401, 'another cookie is no session: 401 as without any');
});

t.test('idle and absolute limits on the app’s clock', async (t) => {
  const server = await portier(t, { CONSOLE_SESSION_IDLE: '1800', CONSOLE_SESSION_MAX: '7200' });
  const ua = new UserAgent();
  await signInThroughIdp(ua, server.origin, 'alice');
  const status = async () => (await ua.request(`${server.origin}/admin/clients`)).status;
  server.clock.advance(1700_000);
  t.equal(await status(), 200, 'used within the idle limit');
  server.clock.advance(1700_000);
  t.equal(await status(), 200, 'and again: each use moves the idle limit');
  server.clock.advance(1800_000);
  t.equal(await status(), 401, '30 minutes without a request: ended');
  t.equal((await sessionRows(server)).length, 0, 'and deleted');

  await signInThroughIdp(ua, server.origin, 'alice');
  for (let used = 0; used < 4; used++) {
    server.clock.advance(1700_000);
    t.equal(await status(), 200, `busy, ${(used + 1) * 1700} s after sign-in`);
  }
  server.clock.advance(600_000);
  t.equal(await status(), 401, 'past CONSOLE_SESSION_MAX (2 hours) it ends, however busy');
});

t.test('sign-out: at once here, within a second on another instance, and on to the provider', async (t) => {
  const server = await portier(t);
  const { buildApp } = await import('../../src/app.js');
  const { createLogger } = await import('../../src/logger.js');
  const other = await buildApp({
    config: server.config,
    database: server.database,
    logger: createLogger('silent'),
    clock: server.clock.now,
  });
  await other.ready();
  t.teardown(() => other.close());

  const ua = new UserAgent();
  await signInThroughIdp(ua, server.origin, 'alice');
  const cookie = `portier_session=${ua.cookie('127.0.0.1', 'portier_session')}`;
  const onOther = () => other.inject({ method: 'GET', url: '/admin/clients', headers: { cookie } });
  t.equal((await onOther()).statusCode, 200, 'the other instance serves the session (and caches it)');

  const csrf = await ua.request(`${server.origin}/console/auth/logout`, { method: 'POST' });
  t.equal(csrf.status, 403, 'sign-out without Portier’s Origin is refused');
  t.equal((await ua.request(`${server.origin}/admin/clients`)).status, 200, 'and the session goes on');

  const out = await ua.request(`${server.origin}/console/auth/logout`, { method: 'POST', headers: { origin: server.origin } });
  t.equal(out.status, 200);
  t.ok(
    out.setCookies.some((line) => /^portier_session=; Path=\/; Max-Age=0/.test(line)),
    'the cookie is cleared',
  );
  const endSession = new URL(JSON.parse(out.body).end_session_url);
  t.equal(
    `${endSession.origin}${endSession.pathname}`,
    `${idp.issuer}/session/end`,
    'RP-initiated logout at the provider’s end_session_endpoint',
  );
  t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${server.origin}/console`);
  t.equal(endSession.searchParams.get('client_id'), idp.clientId);
  t.match(endSession.searchParams.get('id_token_hint'), /^eyJ/, 'with the ID token as a hint');
  t.equal((await new UserAgent().request(endSession.href)).status, 200, 'which the provider accepts (its sign-out page)');

  const stale = await server.app.inject({ method: 'GET', url: '/admin/clients', headers: { cookie } });
  t.equal(stale.statusCode, 401, 'the old cookie is refused at once on this instance');
  const elsewhere = await import('../helpers.js').then(({ eventually }) =>
    eventually(onOther, (response) => response.statusCode === 401, 1000),
  );
  t.equal(elsewhere.statusCode, 401, 'and within a second on the other');
  t.equal((await sessionRows(server)).length, 0, 'the session row is gone');
  const again = await ua.request(`${server.origin}/console/auth/logout`, { method: 'POST', headers: { origin: server.origin, cookie } });
  t.same(JSON.parse(again.body), { end_session_url: null }, 'signing out twice is harmless');
});

t.test('admins list and end people’s sessions; expired rows are pruned', async (t) => {
  const server = await portier(t);
  const alice = new UserAgent();
  await signInThroughIdp(alice, server.origin, 'alice');
  const otto = new UserAgent();
  await signInThroughIdp(otto, server.origin, 'otto');

  const list = await server.admin('GET', '/admin/sessions');
  t.equal(list.statusCode, 200);
  const items = list.json().items as Array<Record<string, unknown>>;
  t.equal(items.length, 2);
  const aliceSession = items.find((item) => item.owner === 'alice@example.com');
  t.match(aliceSession, { subject: `${idp.issuer}#alice-0001`, name: 'Alice Operator', role: 'operator', ip: '127.0.0.1' });
  t.same(Object.keys(aliceSession ?? {}).sort(), [
    'created_at',
    'expires_at',
    'id',
    'ip',
    'last_seen_at',
    'name',
    'owner',
    'role',
    'subject',
  ]);
  t.notOk(list.body.includes('eyJ') || list.body.includes('portier_st_'), 'no token of any kind in the list');

  t.equal((await alice.request(`${server.origin}/admin/sessions`)).status, 403, 'operators: 403');
  t.equal((await otto.request(`${server.origin}/admin/sessions`)).status, 200, 'auditors read them');
  const ottoDelete = await otto.request(`${server.origin}/admin/sessions/${aliceSession?.id}`, {
    method: 'DELETE',
    headers: { origin: server.origin },
  });
  t.equal(ottoDelete.status, 403, 'but cannot end them');

  t.equal((await server.admin('DELETE', `/admin/sessions/${aliceSession?.id}`)).statusCode, 204, 'an admin ends it');
  t.equal((await alice.request(`${server.origin}/admin/clients`)).status, 401, 'at once');
  t.equal((await server.admin('DELETE', `/admin/sessions/${aliceSession?.id}`)).statusCode, 404, 'ending it again: 404');
  const events = (await server.admin('GET', '/admin/audit-events?action=session.ended')).json().items;
  t.match(events, [{ actor: { client_id: 'root-admin' }, details: { session_id: aliceSession?.id, name: 'Alice Operator' } }], 'audited');

  server.clock.advance(3600_000);
  const fresh = await server.tokenFor();
  t.equal((await server.admin('GET', '/admin/sessions', undefined, fresh)).json().items.length, 0, 'idle sessions are not listed');
  t.equal((await sessionRows(server)).length, 1, 'Otto’s expired row is still there…');
  await signInThroughIdp(new UserAgent(), server.origin, 'bob');
  const rows = await sessionRows(server);
  t.same(
    rows.map((row) => row.owner),
    ['bob@example.com'],
    '…until the next sign-in prunes it',
  );
});

t.test('a provider that cannot be reached: the sign-in page says so; tokens and Bearer admin go on', async (t) => {
  const closed = await freePort();
  const server = await buildWithAdmin(t, {
    config: ssoConfig(idp, 'http://127.0.0.1:1', { OIDC_ISSUER: `http://127.0.0.1:${closed}` }),
  });
  const state = await server.app.inject({ method: 'GET', url: '/console/auth/session' });
  t.same(state.json(), { sign_in: { sso: { name: 'Test IdP', available: false }, client: true }, person: null });
  t.equal(state.headers['cache-control'], 'no-store');
  const login = await server.app.inject({ method: 'GET', url: '/console/auth/login' });
  t.equal(login.statusCode, 302);
  t.equal(login.headers.location, '/console/?sign_in=unavailable', 'back to the sign-in page, which says so');
  t.equal((await server.admin('GET', '/admin/clients')).statusCode, 200, 'Bearer admin works');
  const token = await server.tokenFor('admin:read');
  t.match(token, /^eyJ/, 'the token endpoint works');
});

t.test('a provider that stops after it answered: the sign-in page and the sign-in start notice within seconds', async (t) => {
  const origin = 'http://127.0.0.1:8999';
  const own = await startIdp(t, { redirectUris: [`${origin}/console/auth/callback`], host: '127.0.0.3' });
  const server = await buildWithAdmin(t, { config: ssoConfig(own, origin) });
  const available = async () => (await server.app.inject('/console/auth/session')).json().sign_in.sso.available;
  const login = async () => (await server.app.inject('/console/auth/login')).headers.location;
  t.equal(await available(), true, 'the provider answers: one can sign in');
  t.match(await login(), own.issuer, 'and the sign-in start sends the browser there');

  await own.stop();
  server.clock.advance(16_000);
  t.equal(await available(), false, 'stopped: the sign-in page says so once what it knew is 15 s old');
  t.equal(await login(), '/console/?sign_in=unavailable', 'and the sign-in start does not send the browser to it');

  await own.restart();
  server.clock.advance(11_000);
  t.equal(await available(), true, 'back: one can sign in again, 10 s after the failure');
  t.match(await login(), own.issuer);
});

t.test('a provider that never answers: the sign-in page does not wait for it', async (t) => {
  const silent = createNetServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const sockets = new Set<Socket>();
  silent.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
  });
  const { port } = silent.address() as AddressInfo;
  const server = await buildWithAdmin(t, {
    config: ssoConfig(idp, 'http://127.0.0.1:1', { OIDC_ISSUER: `http://127.0.0.1:${port}` }),
  });
  const started = Date.now();
  const state = await server.app.inject('/console/auth/session');
  // The provider's own request timeout is 10 s: the page must not wait for that.
  t.ok(Date.now() - started < 8_000, `the sign-in page answers before the provider's request times out (${Date.now() - started} ms)`);
  t.equal(state.json().sign_in.sso.available, false, 'and says one cannot sign in now');
  const login = await server.app.inject('/console/auth/login');
  t.equal(login.headers.location, '/console/?sign_in=unavailable', 'the sign-in start sends the browser back, not to the provider');
});

t.test('without OIDC_ISSUER there is nothing to sign in to', async (t) => {
  const server = await buildWithAdmin(t);
  const state = await server.app.inject({ method: 'GET', url: '/console/auth/session', headers: { cookie: 'portier_session=x' } });
  t.same(state.json(), { sign_in: { sso: null, client: true }, person: null });
  t.equal((await server.app.inject({ method: 'GET', url: '/console/auth/login' })).statusCode, 404);
  t.equal((await server.app.inject({ method: 'GET', url: '/console/auth/callback?code=x&state=y' })).statusCode, 404);
  const cookieOnly = await server.app.inject({ method: 'GET', url: '/admin/clients', headers: { cookie: 'portier_session=x' } });
  t.equal(cookieOnly.statusCode, 401, 'a session cookie means nothing to the admin API');
});

t.test('OIDC_CA_FILE: a provider whose certificate a private CA signed', async (t) => {
  const { selfSignedCertificate } = await import('../pki.js');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const certificate = selfSignedCertificate('test idp');
  const tlsIdp = await startIdp(t, { redirectUris: ['http://127.0.0.1:1/console/auth/callback'], host: '127.0.0.1', tls: certificate });
  const caFile = join(t.testdir(), 'idp-ca.pem');
  writeFileSync(caFile, certificate.cert);
  const env = { OIDC_ISSUER: tlsIdp.issuer, OIDC_CLIENT_ID: tlsIdp.clientId, OIDC_CLIENT_SECRET: tlsIdp.clientSecret };
  const trusting = await buildWithAdmin(t, { config: ssoConfig(idp, 'http://127.0.0.1:1', { ...env, OIDC_CA_FILE: caFile }) });
  const available = await trusting.app.inject({ method: 'GET', url: '/console/auth/session' });
  t.equal(available.json().sign_in.sso.available, true, 'with the CA: discovery over https works');
  const login = await trusting.app.inject({ method: 'GET', url: '/console/auth/login' });
  t.equal(new URL(login.headers.location ?? '').origin, tlsIdp.issuer, 'and the sign-in goes to the provider');

  const untrusting = await buildWithAdmin(t, { config: ssoConfig(idp, 'http://127.0.0.1:1', env) });
  const refused = await untrusting.app.inject({ method: 'GET', url: '/console/auth/session' });
  t.equal(refused.json().sign_in.sso.available, false, 'without it the certificate is not trusted');
});
