import t from 'tap';
import { basicChallenge } from '../../src/http/errors.js';
import { InvalidClient, InvalidRequest } from '../../src/oauth/errors.js';
import { addClient, basicAuth, build, openBudgets } from '../helpers.js';

// RFC 6749 §5.2: invalid_client at the token, introspection or revocation endpoint is a 401
// with a WWW-Authenticate challenge when the client tried HTTP Basic (sent an Authorization
// header), with the OAuth error and its description as parameters, as node-oidc-provider
// sends it. Otherwise it is a 400 with the JSON body alone, as §5.2 allows: oauth4webapi
// and openid-client throw WWWAuthenticateChallengeError for any challenged 401, and Java's
// HttpURLConnection cannot read the body of a 401 to a streamed POST, so an application
// using client_secret_post or an assertion would never see `invalid_client`.

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const CHALLENGE = 'Basic realm="portier", error="invalid_client", error_description="client authentication failed"';

/** The parameters of one challenge, quoted-strings unescaped (RFC 9110 §11.2, §5.6.4). */
function parameters(challenge: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of challenge.matchAll(/([A-Za-z_]+)="((?:[^"\\]|\\.)*)"/g)) {
    params[match[1] ?? ''] = (match[2] ?? '').replace(/\\(.)/g, '$1');
  }
  return params;
}

t.test('the challenge names the error, quoted by the rules of quoted-string', async (t) => {
  t.equal(basicChallenge(new InvalidClient('wrong secret')), CHALLENGE, 'the public description, never the private detail');
  const tricky = basicChallenge(new InvalidRequest('a "quoted" word, a \\ backslash,\r\na line break and ✓'));
  t.notMatch(tricky, /[\r\n]/, 'nothing that ends the header');
  t.match(tricky, /^Basic realm="portier", error="invalid_request", error_description="(?:[^"\\]|\\.)*"$/, 'one well-formed quoted-string');
  t.equal(parameters(tricky).error_description, 'a "quoted" word, a \\ backslash,??a line break and ?', 'reads back as the description');
});

t.test(
  'invalid_client at /oauth/token, /oauth/introspect and /oauth/revoke: 401 and challenged when Basic was tried, else 400',
  async (t) => {
    const server = await build(t, { config: { protection: openBudgets() } });
    const client = await addClient(server, { client_id: 'challenged' });
    const bodies: Record<string, string> = {
      '/oauth/token': 'grant_type=client_credentials',
      '/oauth/introspect': 'token=x',
      '/oauth/revoke': 'token=x',
    };
    for (const [url, body] of Object.entries(bodies)) {
      const basic = {
        'a wrong secret over Basic': basicAuth('challenged', 'wrong'),
        'an unknown client over Basic': basicAuth('nobody', 'wrong'),
        'an empty secret over Basic': basicAuth('challenged', ''),
      };
      for (const [label, authorization] of Object.entries(basic)) {
        const response = await server.app.inject({ method: 'POST', url, headers: { ...FORM, authorization }, payload: body });
        t.equal(response.statusCode, 401, `${url}, ${label}: 401`);
        t.equal(response.headers['www-authenticate'], CHALLENGE, `${url}, ${label}: the Basic challenge with the error`);
        const json = response.json() as { error: string; error_description: string };
        t.same(parameters(CHALLENGE), { realm: 'portier', error: json.error, error_description: json.error_description }, 'as in the body');
      }
      const other = {
        'no authentication': body,
        'a wrong secret in the body': `${body}&client_id=challenged&client_secret=wrong`,
        'an unknown client in the body': `${body}&client_id=nobody&client_secret=wrong`,
        'a client_id without a secret': `${body}&client_id=challenged`,
        'a client_id with an empty secret': `${body}&client_id=challenged&client_secret=`,
        'an assertion': `${body}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjaGFsbGVuZ2VkIn0.c2ln`,
      };
      for (const [label, payload] of Object.entries(other)) {
        const response = await server.app.inject({ method: 'POST', url, headers: FORM, payload });
        t.equal(response.statusCode, 400, `${url}, ${label}: 400`);
        t.notOk(response.headers['www-authenticate'], `${url}, ${label}: no challenge`);
        t.same(
          response.json(),
          { error: 'invalid_client', error_description: 'client authentication failed' },
          `${url}, ${label}: the JSON body`,
        );
      }
    }

    const malformed = await server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { ...FORM, authorization: 'Basic %%%' },
      payload: bodies['/oauth/token'],
    });
    t.equal(malformed.statusCode, 400, 'a malformed Authorization header is a 400…');
    t.notOk(malformed.headers['www-authenticate'], '…without a challenge');

    const right = await server.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { ...FORM, authorization: basicAuth('challenged', client.clientSecret) },
      payload: bodies['/oauth/introspect'],
    });
    t.equal(right.statusCode, 200);
    t.notOk(right.headers['www-authenticate'], 'no challenge on success');
  },
);

t.test("the admin API's 401s keep their Bearer challenge", async (t) => {
  const server = await build(t);
  const response = await server.app.inject({ method: 'GET', url: '/admin/clients' });
  t.equal(response.statusCode, 401);
  t.match(response.headers['www-authenticate'], /^Bearer /);
});
