import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import t from 'tap';
import type { Config } from '../../src/config.js';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { addClient, addService, build, ISSUER, postToken, type TestLike } from '../helpers.js';

/**
 * RFC 8705 §5: a certificate client calls the token endpoint's alias under MTLS_BASE_URL,
 * and the DPoP proof (`htu`) and client assertion (`aud`) it makes name the URL it calls.
 * Both are accepted where discovery publishes the alias, and only there.
 */

const ALIAS = 'https://mtls.portier.test';
const AUDIENCE = 'https://orders.example';
const grants = [{ service: 'orders', scopes: ['orders:read'] }];
/** A certificate can arrive (a proxy passes it on), and the alias is published. */
const withAlias: Partial<Config> = { clientCertHeader: 'x-forwarded-client-cert', mtlsBaseUrl: ALIAS };

async function server(t: TestLike, config: Partial<Config>) {
  const built = await build(t, { config });
  await addService(built.database, { id: 'orders', audience: AUDIENCE, scopes: ['orders:read'] });
  return built;
}

async function dpopProof(key: { privateKey: CryptoKey; publicKey: CryptoKey }, htu: string): Promise<string> {
  return new SignJWT({ htm: 'POST', htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(key.publicKey) })
    .sign(key.privateKey);
}

async function assertion(privateKey: CryptoKey, clientId: string, aud: string): Promise<string> {
  return new SignJWT({ iss: clientId, sub: clientId, aud, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(privateKey);
}

t.test('discovery publishes the alias, and a DPoP proof may name it as htu', async (t) => {
  const portier = await server(t, withAlias);
  const discovery = (await portier.app.inject({ url: '/.well-known/oauth-authorization-server' })).json();
  t.equal(discovery.mtls_endpoint_aliases.token_endpoint, `${ALIAS}/oauth/token`);
  const { clientId, clientSecret } = await addClient(portier, { grants });
  const key = await generateKeyPair('ES256');
  const form = { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret };
  for (const htu of [`${ISSUER}/oauth/token`, `${ALIAS}/oauth/token`, 'HTTPS://MTLS.portier.test:443/oauth/token']) {
    const answer = await postToken(portier.app, form, { dpop: await dpopProof(key, htu) });
    t.equal(answer.statusCode, 200, `htu ${htu}: ${answer.json().error_description ?? 'issued'}`);
    t.equal(answer.json().token_type, 'DPoP');
  }
  for (const htu of [`${ALIAS}/oauth/introspect`, 'https://evil.example/oauth/token', 'https://user@mtls.portier.test/oauth/token']) {
    const answer = await postToken(portier.app, form, { dpop: await dpopProof(key, htu) });
    t.equal(answer.json().error, 'invalid_dpop_proof', `htu ${htu}`);
  }
});

t.test('a private_key_jwt assertion may name the alias as aud', async (t) => {
  const portier = await server(t, withAlias);
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  await addClient(portier, { client_id: 'signer', grants, auth_method: 'private_key_jwt', jwks: { keys: [jwk] } });
  const form = (aud: string) =>
    assertion(privateKey, 'signer', aud).then((signed) => ({
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: signed,
    }));
  for (const aud of [ISSUER, `${ISSUER}/oauth/token`, `${ALIAS}/oauth/token`]) {
    const answer = await postToken(portier.app, await form(aud));
    t.equal(answer.statusCode, 200, `aud ${aud}: ${answer.json().error_description ?? 'issued'}`);
  }
  for (const aud of [ALIAS, 'https://evil.example/oauth/token']) {
    const answer = await postToken(portier.app, await form(aud));
    t.equal(answer.json().error, 'invalid_client', `aud ${aud}`);
  }
});

t.test('without a way for a certificate to arrive, there is no alias to name', async (t) => {
  const portier = await server(t, { mtlsBaseUrl: ALIAS });
  const discovery = (await portier.app.inject({ url: '/.well-known/oauth-authorization-server' })).json();
  t.equal(discovery.mtls_endpoint_aliases, undefined, 'not published');
  const { clientId, clientSecret } = await addClient(portier, { grants });
  const key = await generateKeyPair('ES256');
  const answer = await postToken(
    portier.app,
    { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
    { dpop: await dpopProof(key, `${ALIAS}/oauth/token`) },
  );
  t.equal(answer.json().error, 'invalid_dpop_proof');
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  await addClient(portier, {
    client_id: 'signer',
    grants,
    auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] },
  });
  const refused = await postToken(portier.app, {
    grant_type: 'client_credentials',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await assertion(privateKey, 'signer', `${ALIAS}/oauth/token`),
  });
  t.equal(refused.json().error, 'invalid_client');
});
