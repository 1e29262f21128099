import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'node:querystring';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import t, { type Test } from 'tap';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { addService, buildWithAdmin, freePort, openBudgets } from '../helpers.js';

// The token requests two client libraries send by default beside a client assertion, which
// counted as a second authentication method: an empty secret. simple-oauth2 (JS) always puts
// client_secret in the body (empty when it has none); requests-oauthlib (Python) puts the
// client_id and an empty password in HTTP Basic. Neither library can be installed here (no
// npm dependency of Portier's, no Python), so their requests are rebuilt byte for byte from
// their sources, sent over a real socket to a listening Portier:
// - simple-oauth2 5.x: lib/client/request-options.js (with `options.authorizationMethod:
//   'body'`: the body is Node's querystring.stringify of the grant's parameters, then
//   client_id and client_secret, undefined becoming empty; in the default `'header'` mode,
//   Basic of the form-encoded id and secret, `String(undefined)` when it has none) and
//   lib/client/client.js (`Accept: application/json`);
// - requests-oauthlib 2.x: OAuth2Session.fetch_token with a BackendApplicationClient (no
//   `auth` and include_client_id unset: HTTPBasicAuth(client_id, ''), id and secret not
//   form-encoded; the body is oauthlib's prepare_token_request, form-encoded again by
//   requests; Accept and Content-Type from fetch_token, the rest requests' defaults).
// RFC 6749 §2.3.1 lets a client leave out an empty secret, so an empty one counts as left
// out; a secret that is not empty beside an assertion is still two methods (400).

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const GRANTS = [{ service: 'events', scopes: ['events:read'] }];
const PLATFORM = 'https://spire.example';
const SPIFFE_ID = 'spiffe://example.org/ns/payments/sa/reporter';

/** requests' default headers (requests.utils.default_headers), as a session sends them. */
const REQUESTS_DEFAULTS = {
  'User-Agent': 'python-requests/2.32.3',
  'Accept-Encoding': 'gzip, deflate',
  Accept: '*/*',
  Connection: 'keep-alive',
};

/** Python's urlencode (quote_plus): what requests does to a dict of form fields. */
function pythonUrlencode(fields: Array<[string, string]>): string {
  const quote = (value: string) =>
    encodeURIComponent(value)
      .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%7E/g, '~')
      .replace(/%20/g, '+');
  return fields.map(([name, value]) => `${quote(name)}=${quote(value)}`).join('&');
}

/** requests' HTTPBasicAuth: `Basic ` and base64 of "id:secret" in latin-1, neither form-encoded. */
function requestsBasic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${secret}`, 'latin1').toString('base64')}`;
}

/** simple-oauth2's CredentialsEncoding (strict mode): each form-encoded, then base64 of "id:secret". */
function simpleOauth2Basic(clientId: string, secret: string | undefined): string {
  const encode = (value: string | undefined) => encodeURIComponent(value as string).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

interface Answer {
  status: number;
  body: { error?: string; access_token?: string };
}

async function setUp(t: Test) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server = await buildWithAdmin(t, { config: { issuer, protection: openBudgets() } });
  await server.app.listen({ port, host: '127.0.0.1' });
  await addService(server.database, EVENTS);

  // A private_key_jwt client, and a federated one whose platform's keys are given inline.
  const client = await generateKeyPair('ES256');
  const clientJwk = { ...(await exportJWK(client.publicKey)), kid: 'k1', alg: 'ES256' };
  const made = await server.admin('POST', '/admin/clients', {
    client_id: 'partner-jwt',
    name: 'Partner',
    owner: 'partners',
    grants: GRANTS,
    auth_method: 'private_key_jwt',
    jwks: { keys: [clientJwk] },
  });
  t.equal(made.statusCode, 201);
  const platform = await generateKeyPair('ES256');
  const platformJwk = { ...(await exportJWK(platform.publicKey)), kid: 'spire-1', alg: 'ES256' };
  t.equal(
    (await server.admin('POST', '/admin/trusted-issuers', { id: 'spire', issuer: PLATFORM, jwks: { keys: [platformJwk] } })).statusCode,
    201,
  );
  t.equal(
    (
      await server.admin('POST', '/admin/clients', {
        client_id: 'payments-reporter',
        name: 'Reporter',
        owner: 'payments',
        grants: GRANTS,
        auth_method: 'federated',
        federated_identities: [{ issuer: 'spire', subject: SPIFFE_ID }],
      })
    ).statusCode,
    201,
  );

  const sign = (claims: JWTPayload, key: CryptoKey, kid: string) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
  const now = () => Math.floor(server.clock.now() / 1000);
  /** A private_key_jwt client's assertion (RFC 7523): iss = sub = client_id, aud the issuer. */
  const clientAssertion = () =>
    sign({ iss: 'partner-jwt', sub: 'partner-jwt', aud: issuer, iat: now(), exp: now() + 60, jti: randomUUID() }, client.privateKey, 'k1');
  /** The platform's JWT-SVID for the federated client. */
  const platformToken = () =>
    sign({ iss: PLATFORM, sub: SPIFFE_ID, aud: [issuer], iat: now(), exp: now() + 300 }, platform.privateKey, 'spire-1');

  /** POSTs exactly these headers and this body to the token endpoint, over a socket. */
  const send = (headers: Record<string, string>, body: string) =>
    new Promise<Answer>((resolve, reject) => {
      const outgoing = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/oauth/token',
          headers: { ...headers, 'Content-Length': Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  return { send, clientAssertion, platformToken, issuer };
}

t.test('simple-oauth2: client_secret in the body, empty, beside an assertion', async (t) => {
  const { send, clientAssertion, platformToken } = await setUp(t);
  // new ClientCredentials({ client: { id }, auth: { tokenHost }, options: { authorizationMethod: 'body' } })
  //   .getToken({ client_assertion_type, client_assertion })
  const bodyMode = (clientId: string, assertion: string, secret?: string) =>
    send(
      { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      stringify({
        grant_type: 'client_credentials',
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
        client_id: clientId,
        client_secret: secret,
      }),
    );
  for (const [what, clientId, assertion] of [
    ['private_key_jwt', 'partner-jwt', clientAssertion],
    ['federated', 'payments-reporter', platformToken],
  ] as const) {
    const sent = await bodyMode(clientId, await assertion());
    t.equal(sent.status, 200, `${what}: client_secret= (no secret configured) is no secret`);
    t.type(sent.body.access_token, 'string');
    t.equal((await bodyMode(clientId, await assertion(), '')).status, 200, `${what}: client.secret '' sends the same`);
    const two = await bodyMode(clientId, await assertion(), 'a-real-secret');
    t.same([two.status, two.body.error], [400, 'invalid_request'], `${what}: a secret that is not empty is still a second method`);
  }

  // The default, authorizationMethod 'header': Basic of the id and the secret. With secret ''
  // it is an empty password, which names the client beside the assertion; without any
  // secret, simple-oauth2 encodes `undefined` as the text "undefined": a secret, refused.
  const headerMode = async (secret: string | undefined) =>
    send(
      {
        Authorization: simpleOauth2Basic('partner-jwt', secret),
        Accept: 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      stringify({
        grant_type: 'client_credentials',
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await clientAssertion(),
      }),
    );
  t.equal((await headerMode('')).status, 200, "header mode with secret '': accepted");
  const undefinedSecret = await headerMode(undefined);
  t.same([undefinedSecret.status, undefinedSecret.body.error], [400, 'invalid_request'], 'header mode with no secret: "undefined" is one');
});

t.test('requests-oauthlib: an empty password in HTTP Basic beside an assertion (its default), or client_id in the body', async (t) => {
  const { send, clientAssertion, platformToken } = await setUp(t);
  // OAuth2Session(client=BackendApplicationClient(client_id=X))
  //   .fetch_token(token_url, client_assertion_type=…, client_assertion=…)
  const byDefault = (clientId: string, assertion: string, password = '') =>
    send(
      {
        ...REQUESTS_DEFAULTS,
        Accept: 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: requestsBasic(clientId, password),
      },
      pythonUrlencode([
        ['grant_type', 'client_credentials'],
        ['client_assertion_type', CLIENT_ASSERTION_TYPE],
        ['client_assertion', assertion],
      ]),
    );
  // The same with include_client_id=True (and client_secret='' where the caller passes one).
  const withClientId = (clientId: string, assertion: string, secret?: string) =>
    send(
      { ...REQUESTS_DEFAULTS, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      pythonUrlencode([
        ['grant_type', 'client_credentials'],
        ['client_id', clientId],
        ...(secret === undefined ? [] : ([['client_secret', secret]] as Array<[string, string]>)),
        ['client_assertion_type', CLIENT_ASSERTION_TYPE],
        ['client_assertion', assertion],
      ]),
    );
  for (const [what, clientId, assertion] of [
    ['private_key_jwt', 'partner-jwt', clientAssertion],
    ['federated', 'payments-reporter', platformToken],
  ] as const) {
    t.equal((await byDefault(clientId, await assertion())).status, 200, `${what}: Basic with an empty password names the client`);
    t.equal((await withClientId(clientId, await assertion())).status, 200, `${what}: include_client_id=True`);
    t.equal((await withClientId(clientId, await assertion(), '')).status, 200, `${what}: include_client_id=True, client_secret=''`);
    const password = await byDefault(clientId, await assertion(), 'a-real-secret');
    t.same([password.status, password.body.error], [400, 'invalid_request'], `${what}: a password that is not empty: two methods`);
  }
  const other = await byDefault('someone-else', await platformToken());
  t.same(
    [other.status, other.body.error],
    [401, 'invalid_client'],
    'Basic naming another client than the token’s identity: refused, as Basic was tried',
  );
  const mismatch = await send(
    { ...REQUESTS_DEFAULTS, 'Content-Type': 'application/x-www-form-urlencoded', Authorization: requestsBasic('partner-jwt', '') },
    pythonUrlencode([
      ['grant_type', 'client_credentials'],
      ['client_id', 'payments-reporter'],
      ['client_assertion_type', CLIENT_ASSERTION_TYPE],
      ['client_assertion', await platformToken()],
    ]),
  );
  t.same([mismatch.status, mismatch.body.error], [400, 'invalid_request'], 'a client_id in the body that is not the Basic one: 400');
});

t.test('an empty client_secret alone, or beside HTTP Basic, is no secret', async (t) => {
  const { send } = await setUp(t);
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const alone = await send(form, 'grant_type=client_credentials&client_id=partner-jwt&client_secret=');
  t.same(
    [alone.status, alone.body.error],
    [400, 'invalid_client'],
    'a client_id with an empty secret: no authentication (400, no Basic tried)',
  );
  const besideBasic = await send(
    { ...form, Authorization: requestsBasic('root-admin', 'root-admin-secret-0123456789') },
    'grant_type=client_credentials&client_secret=',
  );
  t.equal(besideBasic.status, 200, 'Basic and an empty client_secret: Basic alone, not two methods');
});

t.test('oauth4webapi and openid-client: the platform token sent by a ClientAuth of one’s own (the documented recipe)', async (t) => {
  const { issuer, platformToken } = await setUp(t);
  // Where the platform puts its token (a Kubernetes projected volume, say): read at each request.
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'portier-platform-')), 'token');
  const platformAuth = (_as: unknown, client: { client_id: string }, body: URLSearchParams) => {
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    body.set('client_assertion', readFileSync(tokenFile, 'utf8').trim());
  };

  writeFileSync(tokenFile, await platformToken());
  const issuerUrl = new URL(issuer);
  const insecure = { [oauth.allowInsecureRequests]: true } as const;
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
  t.same(as.portier_federated_client_assertion_types_supported, [CLIENT_ASSERTION_TYPE], 'discovery names the federated method');
  const client: oauth.Client = { client_id: 'payments-reporter' };
  const response = await oauth.clientCredentialsGrantRequest(as, client, platformAuth, { resource: EVENTS.audience }, insecure);
  const tokens = await oauth.processClientCredentialsResponse(as, client, response);
  t.equal(tokens.scope, 'events:read', 'oauth4webapi: a token');

  writeFileSync(tokenFile, await platformToken());
  const config = await openid.discovery(issuerUrl, 'payments-reporter', undefined, platformAuth, {
    execute: [openid.allowInsecureRequests],
  });
  const granted = await openid.clientCredentialsGrant(config, { resource: EVENTS.audience });
  t.equal(granted.scope, 'events:read', 'openid-client: a token');

  writeFileSync(tokenFile, 'not-a-token');
  const refused = await openid.clientCredentialsGrant(config, { resource: EVENTS.audience }).catch((error: unknown) => error);
  t.ok(refused instanceof openid.ResponseBodyError, 'a refused platform token: the body’s error, not a challenge');
  t.equal((refused as openid.ResponseBodyError).error, 'invalid_client');
  t.equal((refused as openid.ResponseBodyError).status, 400);
});
