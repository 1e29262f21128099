import { createServer } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import t, { type Test } from 'tap';
import { addClient, addService, build, type TestServer, testConfig } from '../helpers.js';

// Portier against OAuth client libraries that nobody here wrote: oauth4webapi and
// openid-client (v6). They talk to a real listening server, find it by discovery, and
// authenticate with private_key_jwt (and client_secret_basic), as a partner's code would.
// The issuer is http on loopback, which both libraries refuse unless told otherwise.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A port nobody listens on right now: the issuer must be known before the server is built. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** Portier listening on 127.0.0.1 with ISSUER its own URL, a service, and two clients: one with a key, one with a secret. */
async function listening(t: Test) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server: TestServer = await build(t, { config: { ...testConfig(), issuer, port, host: '127.0.0.1' } });
  await server.app.listen({ port, host: '127.0.0.1' });
  await addService(server.database, EVENTS);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const grants = [{ service: 'events', scopes: ['events:read'] }];
  await addClient(server, {
    client_id: 'partner-jwt',
    auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'partner-1', alg: 'ES256' }] },
    grants,
  });
  const secretClient = await addClient(server, { client_id: 'partner-secret', grants });
  return { server, issuer, privateKey, secret: secretClient.clientSecret };
}

t.test('oauth4webapi: discovery, private_key_jwt, introspection, revocation, validateJwtAccessToken', async (t) => {
  const { issuer, privateKey, secret } = await listening(t);
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
  t.equal(as.issuer, issuer, 'discovered the issuer');
  t.ok(as.token_endpoint_auth_methods_supported?.includes('private_key_jwt'), 'private_key_jwt is advertised');
  t.ok(as.token_endpoint_auth_signing_alg_values_supported?.includes('ES256'), 'ES256 is advertised');

  const jwtClient: oauth.Client = { client_id: 'partner-jwt' };
  const jwtAuth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'partner-1' });
  const tokenResponse = await oauth.processClientCredentialsResponse(
    as,
    jwtClient,
    await oauth.clientCredentialsGrantRequest(as, jwtClient, jwtAuth, { resource: EVENTS.audience }, insecure),
  );
  t.equal(tokenResponse.token_type.toLowerCase(), 'bearer', 'a bearer token');
  t.equal(tokenResponse.scope, 'events:read');
  const accessToken = tokenResponse.access_token;

  // A resource server's check of the token (RFC 9068), keys from the discovered jwks_uri.
  const claims = await oauth.validateJwtAccessToken(
    as,
    new Request('https://events.example/things', { headers: { authorization: `Bearer ${accessToken}` } }),
    EVENTS.audience,
    insecure,
  );
  t.equal(claims.client_id, 'partner-jwt', 'validateJwtAccessToken: client_id');
  t.equal(claims.iss, issuer, 'validateJwtAccessToken: iss');

  // Introspection with private_key_jwt, then with client_secret_basic.
  const introspectWith = async (client: oauth.Client, auth: oauth.ClientAuth) =>
    oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, accessToken, insecure));
  t.match(await introspectWith(jwtClient, jwtAuth), { active: true, client_id: 'partner-jwt' }, 'introspection, private_key_jwt');
  const secretClient: oauth.Client = { client_id: 'partner-secret' };
  const secretAuth = oauth.ClientSecretBasic(secret);
  t.match(await introspectWith(secretClient, secretAuth), { active: true, client_id: 'partner-jwt' }, 'introspection, client_secret_basic');

  // Revocation: by another client (refused), then by the owner with private_key_jwt.
  await t.rejects(
    oauth.processRevocationResponse(await oauth.revocationRequest(as, secretClient, secretAuth, accessToken, insecure)),
    'another client may not revoke it',
  );
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, jwtClient, jwtAuth, accessToken, insecure));
  t.match(await introspectWith(jwtClient, jwtAuth), { active: false }, 'revoked');

  // Revocation with client_secret_basic, of the secret client's own token.
  const secretToken = await oauth.processClientCredentialsResponse(
    as,
    secretClient,
    await oauth.clientCredentialsGrantRequest(as, secretClient, secretAuth, {}, insecure),
  );
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, secretClient, secretAuth, secretToken.access_token, insecure));
  const after = await oauth.processIntrospectionResponse(
    as,
    secretClient,
    await oauth.introspectionRequest(as, secretClient, secretAuth, secretToken.access_token, insecure),
  );
  t.equal(after.active, false, 'revoked with client_secret_basic');

  // A wrong key: the library sees invalid_client.
  const { privateKey: stranger } = await generateKeyPair('ES256');
  const refused = await oauth
    .processClientCredentialsResponse(
      as,
      jwtClient,
      await oauth.clientCredentialsGrantRequest(as, jwtClient, oauth.PrivateKeyJwt({ key: stranger, kid: 'partner-1' }), {}, insecure),
    )
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  // An assertion is no Basic attempt: no challenge, so the library reports the body's error.
  t.ok(refused instanceof oauth.ResponseBodyError, 'a wrong key is refused with an RFC 6749 error');
  t.equal((refused as oauth.ResponseBodyError).error, 'invalid_client', 'the application sees invalid_client');
});

t.test('openid-client: discovery and clientCredentialsGrant with PrivateKeyJwt', async (t) => {
  const { issuer, privateKey } = await listening(t);
  const config = await openid.discovery(
    new URL(issuer),
    'partner-jwt',
    undefined,
    openid.PrivateKeyJwt({ key: privateKey, kid: 'partner-1' }),
    {
      execute: [openid.allowInsecureRequests],
    },
  );
  t.equal(config.serverMetadata().issuer, issuer, 'discovered');
  const tokens = await openid.clientCredentialsGrant(config, { resource: EVENTS.audience });
  t.equal(tokens.scope, 'events:read', 'a token');
  t.ok(tokens.access_token.split('.').length === 3, 'a JWT');
  const introspection = await openid.tokenIntrospection(config, tokens.access_token);
  t.equal(introspection.active, true, 'introspection');
  await openid.tokenRevocation(config, tokens.access_token);
  t.equal((await openid.tokenIntrospection(config, tokens.access_token)).active, false, 'revocation');
});
