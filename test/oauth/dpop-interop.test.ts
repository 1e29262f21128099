import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import t from 'tap';
import type { Config } from '../../src/config.js';
import { addClient, addService, build, freePort, type TestLike } from '../helpers.js';

// DPoP against maintained clients that no one here wrote, over real HTTP: oauth4webapi
// (token request with a DPoP handle, its nonce error and retry, and a resource server
// checking the DPoP-bound token and its proof with validateJwtAccessToken), and
// openid-client, which retries a use_dpop_nonce answer by itself.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };

/** Portier listening on 127.0.0.1, its ISSUER the URL it listens at, and a client granted events:read. */
async function listeningPortier(t: TestLike, config: Partial<Config> = {}) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server = await build(t, { config: { issuer, ...config } });
  await addService(server.database, EVENTS);
  const client = await addClient(server, { client_id: 'interop', grants: [{ service: EVENTS.id, scopes: EVENTS.scopes }] });
  await server.app.listen({ port, host: '127.0.0.1' });
  return { server, issuer: new URL(issuer), client };
}

// --- The resource server of docs/dpop.md, as it is there. ---

/**
 * Accepts a request only with a DPoP-bound access token from `as` for `audience` and a
 * valid proof for this very request (method, URL, `ath`, key), as RFC 9449 §7 asks.
 */
function resourceServer(as: oauth.AuthorizationServer, audience: string, options: { allowHttp?: boolean } = {}): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
    }
    // The URL the client used: the proof's htu is checked against it.
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    oauth
      .validateJwtAccessToken(as, new Request(url, { method: req.method, headers }), audience, {
        requireDPoP: true,
        [oauth.allowInsecureRequests]: options.allowHttp === true,
      })
      .then(
        (claims) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client_id: claims.client_id })),
        () => res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_token"' }).end(),
      );
  });
}

async function listen(t: TestLike, server: Server): Promise<URL> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

for (const dpopNonce of [false, true]) {
  t.test(`oauth4webapi: a DPoP-bound token, used at a resource server (DPOP_NONCE=${dpopNonce})`, async (t) => {
    const { issuer, client } = await listeningPortier(t, { dpopNonce });
    const insecure = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
    t.same(as.dpop_signing_alg_values_supported, ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519']);

    const oauthClient: oauth.Client = { client_id: client.clientId };
    const DPoP = oauth.DPoP(oauthClient, await oauth.generateKeyPair('ES256'));
    let attempts = 0;
    const requestToken = async () => {
      attempts++;
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        oauthClient,
        oauth.ClientSecretBasic(client.clientSecret),
        { resource: EVENTS.audience },
        { DPoP, ...insecure },
      );
      return oauth.processClientCredentialsResponse(as, oauthClient, response);
    };
    let token: oauth.TokenEndpointResponse;
    try {
      token = await requestToken();
    } catch (error) {
      // oauth4webapi keeps the nonce the server sent; the caller retries once.
      if (!oauth.isDPoPNonceError(error)) throw error;
      token = await requestToken();
    }
    t.equal(attempts, dpopNonce ? 2 : 1, dpopNonce ? 'asked for a nonce, then got the token' : 'no nonce needed');
    t.equal(token.token_type, 'dpop');

    const api = await listen(t, resourceServer(as, EVENTS.audience, { allowHttp: true }));
    const call = await oauth.protectedResourceRequest(token.access_token, 'GET', new URL('/events', api), undefined, undefined, {
      DPoP,
      ...insecure,
    });
    t.equal(call.status, 200, 'the resource server accepts the token with its proof');
    t.same(await call.json(), { client_id: client.clientId });

    const asBearer = await fetch(new URL('/events', api), { headers: { authorization: `Bearer ${token.access_token}` } });
    t.equal(asBearer.status, 401, 'the same token as a bearer token is refused');
    const otherKey = oauth.DPoP(oauthClient, await oauth.generateKeyPair('ES256'));
    const stolen = await oauth
      .protectedResourceRequest(token.access_token, 'GET', new URL('/events', api), undefined, undefined, { DPoP: otherKey, ...insecure })
      .catch((error: unknown) => error);
    t.ok(stolen instanceof oauth.WWWAuthenticateChallengeError && stolen.status === 401, 'and with a proof by another key');
  });
}

t.test('openid-client retries use_dpop_nonce by itself', async (t) => {
  const { issuer, client, server } = await listeningPortier(t, { dpopNonce: true });
  const config = await openid.discovery(issuer, client.clientId, undefined, openid.ClientSecretBasic(client.clientSecret), {
    algorithm: 'oauth2',
    execute: [openid.allowInsecureRequests],
  });
  const DPoP = openid.getDPoPHandle(config, await openid.randomDPoPKeyPair('ES256'));
  const tokens = await openid.clientCredentialsGrant(config, { resource: EVENTS.audience }, { DPoP });
  t.equal(tokens.token_type, 'dpop');
  const metrics = (await server.app.inject('/metrics')).body;
  t.match(metrics, /portier_token_requests_total\{outcome="use_dpop_nonce"\} 1\n/, 'one use_dpop_nonce answer');
  t.match(metrics, /portier_token_requests_total\{outcome="issued"\} 1\n/, 'then the token, on the retry');
});
