import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import t, { type Test } from 'tap';
import type { Config } from '../../src/config.js';
import { addClient, addService, build, freePort, type TestServer, testConfig } from '../helpers.js';

// Portier against OAuth client libraries that nobody here wrote: oauth4webapi and
// openid-client (v6). They talk to a real listening server, find it by discovery, and
// authenticate with private_key_jwt (and client_secret_basic), as a partner's code would:
// what the application sees of a wrong secret, Ed25519 keys as the library signs with
// them by default, an hour-long assertion, and a revocation read as JSON.
// The issuer is http on loopback, which both libraries refuse unless told otherwise.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** Portier listening on 127.0.0.1 with ISSUER its own URL, a service, and two clients: one with a key, one with a secret. */
async function listening(t: Test, config: Partial<Config> = {}) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server: TestServer = await build(t, { config: { ...testConfig(), issuer, port, host: '127.0.0.1', ...config } });
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

/** What an application sees when a promise of a library rejects: the error, or undefined when it resolved. */
const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

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

// What the application sees of a wrong secret: `invalid_client`, whichever method. With
// client_secret_post the body's error (ResponseBodyError); with client_secret_basic the
// libraries report the Basic challenge (WWWAuthenticateChallengeError), whose parameters
// carry the same error.

t.test('oauth4webapi: a wrong secret is invalid_client, over Basic and in the body', async (t) => {
  const { issuer } = await listening(t);
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
  const client: oauth.Client = { client_id: 'partner-secret' };
  const attempt = (auth: oauth.ClientAuth) =>
    failure(
      oauth
        .clientCredentialsGrantRequest(as, client, auth, {}, insecure)
        .then((response) => oauth.processClientCredentialsResponse(as, client, response)),
    );

  const post = await attempt(oauth.ClientSecretPost('wrong'));
  t.ok(post instanceof oauth.ResponseBodyError, 'client_secret_post: a ResponseBodyError');
  t.equal((post as oauth.ResponseBodyError).error, 'invalid_client', 'client_secret_post: the application sees invalid_client');
  t.equal((post as oauth.ResponseBodyError).status, 400, 'a 400: the secret was in the body, not the Authorization header');

  const basic = await attempt(oauth.ClientSecretBasic('wrong'));
  t.ok(basic instanceof oauth.WWWAuthenticateChallengeError, 'client_secret_basic: the Basic challenge (RFC 6749 §5.2)');
  const [challenge] = (basic as oauth.WWWAuthenticateChallengeError).cause;
  t.equal(challenge?.scheme, 'basic');
  t.equal(challenge?.parameters.error, 'invalid_client', 'client_secret_basic: the application sees invalid_client');
  t.equal(challenge?.parameters.error_description, 'client authentication failed', 'and the description');
});

t.test('openid-client: a wrong secret is invalid_client, over Basic and in the body', async (t) => {
  const { issuer } = await listening(t);
  const grant = async (auth: openid.ClientAuth) => {
    const config = await openid.discovery(new URL(issuer), 'partner-secret', undefined, auth, { execute: [openid.allowInsecureRequests] });
    return failure(openid.clientCredentialsGrant(config, { resource: EVENTS.audience }));
  };

  const post = await grant(openid.ClientSecretPost('wrong'));
  t.ok(post instanceof openid.ResponseBodyError, 'client_secret_post: a ResponseBodyError');
  t.equal((post as openid.ResponseBodyError).error, 'invalid_client', 'client_secret_post: the application sees invalid_client');

  const basic = await grant(openid.ClientSecretBasic('wrong'));
  t.ok(basic instanceof openid.WWWAuthenticateChallengeError, 'client_secret_basic: the Basic challenge');
  t.equal(
    (basic as openid.WWWAuthenticateChallengeError).cause[0]?.parameters.error,
    'invalid_client',
    'client_secret_basic: the application sees invalid_client',
  );
});

t.test('oauth4webapi with an Ed25519 key, signing as it does by default (alg Ed25519): private_key_jwt and DPoP', async (t) => {
  // Portier signs with SIGNING_ALG=Ed25519 too, and oauth4webapi verifies its tokens.
  const { server, issuer } = await listening(t, { signingAlg: 'Ed25519' });
  const { privateKey, publicKey } = await oauth.generateKeyPair('Ed25519', { extractable: true });
  // Registered as key tools write it (alg EdDSA, RFC 8037); the library signs as Ed25519 (RFC 9864).
  await addClient(server, {
    client_id: 'partner-ed25519',
    auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'ed-1', alg: 'EdDSA' }] },
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
  for (const field of [
    'token_endpoint_auth_signing_alg_values_supported',
    'introspection_endpoint_auth_signing_alg_values_supported',
    'revocation_endpoint_auth_signing_alg_values_supported',
    'dpop_signing_alg_values_supported',
  ] as const) {
    t.ok(
      (as[field] as string[] | undefined)?.includes('Ed25519') && (as[field] as string[] | undefined)?.includes('EdDSA'),
      `${field}: EdDSA and Ed25519`,
    );
  }
  const client: oauth.Client = { client_id: 'partner-ed25519' };
  const auth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'ed-1' });

  // What the library sends, read on the way: the algorithms it chose by itself.
  const sent: Array<{ assertionAlg: unknown; proofAlg: unknown }> = [];
  const watching = {
    ...insecure,
    [oauth.customFetch]: async (url: string, init: RequestInit) => {
      const body = new URLSearchParams(String(init.body));
      const proof = new Headers(init.headers).get('dpop');
      sent.push({
        assertionAlg: decodeProtectedHeader(body.get('client_assertion') ?? '').alg,
        proofAlg: proof === null ? undefined : decodeProtectedHeader(proof).alg,
      });
      return fetch(url, init);
    },
  };
  const bearer = await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, { resource: EVENTS.audience }, watching),
  );
  t.equal(bearer.token_type, 'bearer', 'private_key_jwt with an Ed25519 assertion: a token');

  const DPoP = oauth.DPoP(client, { privateKey, publicKey });
  const bound = await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, { resource: EVENTS.audience }, { DPoP, ...watching }),
  );
  t.equal(bound.token_type, 'dpop', 'an Ed25519 DPoP proof: a DPoP-bound token');
  t.same(
    sent,
    [
      { assertionAlg: 'Ed25519', proofAlg: undefined },
      { assertionAlg: 'Ed25519', proofAlg: 'Ed25519' },
    ],
    'the library signed the assertions and the proof as Ed25519',
  );

  // A resource server's checks, keys from the JWKS: the token signed as Ed25519, and the
  // library's own proof for the call, captured on its way out.
  let call: Request | undefined;
  await oauth.protectedResourceRequest(bound.access_token, 'GET', new URL('https://events.example/things'), undefined, undefined, {
    DPoP,
    [oauth.customFetch]: async (url, init) => {
      call = new Request(url, init);
      return new Response('{}', { headers: { 'content-type': 'application/json' } });
    },
  });
  if (call === undefined) throw new Error('no call was made');
  const claims = await oauth.validateJwtAccessToken(as, call, EVENTS.audience, { requireDPoP: true, ...insecure });
  t.equal(claims.client_id, 'partner-ed25519', 'validateJwtAccessToken accepts the Ed25519-signed, DPoP-bound token');
  t.equal(JSON.parse(Buffer.from(bound.access_token.split('.')[0] ?? '', 'base64url').toString()).alg, 'Ed25519', 'signed as Ed25519');
});

t.test('an hour-long assertion, as Authlib makes them, is accepted once', async (t) => {
  const { issuer, privateKey } = await listening(t);
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
  const client: oauth.Client = { client_id: 'partner-jwt' };
  let made: string | undefined;
  const hourLong = oauth.PrivateKeyJwt(
    { key: privateKey, kid: 'partner-1' },
    {
      [oauth.modifyAssertion]: (_header, payload) => {
        payload.exp = Number(payload.iat) + 3600;
        // The same assertion each time, as a client that caches it would send it again.
        made ??= String(payload.jti);
        payload.jti = made;
      },
    },
  );
  const request = () =>
    failure(
      oauth
        .clientCredentialsGrantRequest(as, client, hourLong, { resource: EVENTS.audience }, insecure)
        .then((response) => oauth.processClientCredentialsResponse(as, client, response)),
    );
  t.equal(await request(), undefined, 'exp = iat + 3600: a token');
  const again = await request();
  t.ok(again instanceof oauth.ResponseBodyError && again.error === 'invalid_client', 'its jti used again: invalid_client');
});

t.test('revocation read by a client that only takes JSON', async (t) => {
  const { issuer, secret } = await listening(t);
  const basic = `Basic ${Buffer.from(`partner-secret:${secret}`).toString('base64')}`;
  const form = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const token = (await (
    await fetch(`${issuer}/oauth/token`, { method: 'POST', headers: form, body: 'grant_type=client_credentials' })
  ).json()) as {
    access_token: string;
  };
  for (const label of ['a token in force', 'the same token again']) {
    // As simple-oauth2 does: Accept: application/json, and every answer parsed as JSON.
    const response = await fetch(`${issuer}/oauth/revoke`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ token: token.access_token }).toString(),
    });
    t.equal(response.status, 200, `${label}: 200`);
    t.match(response.headers.get('content-type'), /^application\/json/, `${label}: application/json`);
    t.same(await response.json(), {}, `${label}: {} parses`);
  }
});
