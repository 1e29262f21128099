import t from 'tap';
import { addClient, basicAuth, build } from '../helpers.js';

// RFC 9110 §15.5.2: a 401 carries WWW-Authenticate. Every 401 of the OAuth endpoints, for
// every way of failing, has the same challenge, so the challenge says nothing about which
// part was wrong.

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

t.test('every 401 at /oauth/token, /oauth/introspect and /oauth/revoke carries the same challenge', async (t) => {
  const server = await build(t);
  const client = await addClient(server, { client_id: 'challenged' });
  const bodies: Record<string, string> = {
    '/oauth/token': 'grant_type=client_credentials',
    '/oauth/introspect': 'token=x',
    '/oauth/revoke': 'token=x',
  };
  const challenges = new Set<string>();
  for (const [url, body] of Object.entries(bodies)) {
    const attempts = {
      'no authentication': { headers: FORM, payload: body },
      'a wrong secret over Basic': { headers: { ...FORM, authorization: basicAuth('challenged', 'wrong') }, payload: body },
      'a wrong secret in the body': { headers: FORM, payload: `${body}&client_id=challenged&client_secret=wrong` },
      'an unknown client in the body': { headers: FORM, payload: `${body}&client_id=nobody&client_secret=wrong` },
      'a client_id without a secret': { headers: FORM, payload: `${body}&client_id=challenged` },
    };
    for (const [label, request] of Object.entries(attempts)) {
      const response = await server.app.inject({ method: 'POST', url, ...request });
      t.equal(response.statusCode, 401, `${url}, ${label}: 401`);
      const challenge = response.headers['www-authenticate'];
      t.match(challenge, /^Basic realm="portier"/, `${url}, ${label}: WWW-Authenticate`);
      challenges.add(String(challenge));
    }
  }
  t.equal(challenges.size, 1, 'one challenge for every failure');

  const right = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { ...FORM, authorization: basicAuth('challenged', client.clientSecret) },
    payload: bodies['/oauth/introspect'],
  });
  t.equal(right.statusCode, 200);
  t.notOk(right.headers['www-authenticate'], 'no challenge on success');
});

t.test("the admin API's 401s keep their Bearer challenge", async (t) => {
  const server = await build(t);
  const response = await server.app.inject({ method: 'GET', url: '/admin/clients' });
  t.equal(response.statusCode, 401);
  t.match(response.headers['www-authenticate'], /^Bearer /);
});
