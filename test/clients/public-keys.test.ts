import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import t from 'tap';
import { certificateShows } from '../../src/clients/certificates.js';
import { jwkThumbprint } from '../../src/clients/public-keys.js';
import { addClient, addService, build, postToken } from '../helpers.js';
import { issueCertificate, makeCa } from '../pki.js';

// Portier's one JWK thumbprint (jwkThumbprint, RFC 7638), which the stored, listed and
// certificate-matched thumbprints all are: the same as jose's, key type by key type.

t.test('jwkThumbprint is RFC 7638 and jose’s calculateJwkThumbprint, for every key type Portier registers', async (t) => {
  // RFC 7638 §3.1's example key and its thumbprint.
  const example = {
    kty: 'RSA',
    n:
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6' +
      '4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91C' +
      'bOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };
  t.equal(jwkThumbprint(example), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', 'the RFC’s example');

  const kinds: Array<[string, () => Promise<JWK>]> = [
    ['RSA 2048', async () => exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey)],
    [
      'RSA 3072, e not AQAB',
      async () => generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).publicKey.export({ format: 'jwk' }) as JWK,
    ],
    ['EC P-256', async () => exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)],
    ['EC P-384', async () => exportJWK((await generateKeyPair('ES384', { extractable: true })).publicKey)],
    ['EC P-521', async () => exportJWK((await generateKeyPair('ES512', { extractable: true })).publicKey)],
    ['OKP Ed25519', async () => exportJWK((await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })).publicKey)],
    ['OKP X25519', async () => generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as JWK],
  ];
  for (const [kind, make] of kinds) {
    const key = await make();
    // Other members, and the members in another order, change nothing.
    const decorated = { use: 'sig', kid: 'k', alg: 'X', ...Object.fromEntries(Object.entries(key).reverse()) } as JWK;
    t.equal(jwkThumbprint(decorated), await calculateJwkThumbprint(key, 'sha256'), kind);
  }
});

t.test('jwkThumbprint: undefined where jose refuses (a required member missing) and for key types Portier does not register', async (t) => {
  const key = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
  const { y: _, ...withoutY } = key;
  await t.rejects(calculateJwkThumbprint(withoutY, 'sha256'), 'jose refuses it');
  t.equal(jwkThumbprint(withoutY), undefined, 'so does jwkThumbprint, instead of hashing what is there');
  t.equal(jwkThumbprint({ ...key, x: 1 } as unknown as JWK), undefined, 'a member that is not a string');
  t.equal(jwkThumbprint({ kty: 'oct', k: 'c2VjcmV0' }), undefined, 'a symmetric key');
});

t.test('a certificate whose key no JWK holds (RSA-PSS): no key thumbprint, and a token by its subject, not a 500', async (t) => {
  const ca = makeCa('RSA-PSS test CA');
  const { publicKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
  const cert = issueCertificate({ subject: [['CN', 'pss-client']], issuer: ca, publicKey });
  t.match(certificateShows(cert.x509), { publicKey: undefined, keys: [{ kind: 'subject_dn' }] });

  // Behind a proxy, which verified the certificate and passes it on.
  const server = await build(t, { config: { trustProxy: ['127.0.0.1'], clientCertHeader: 'x-ssl-client-cert' } });
  await addService(server.database, { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read'] });
  const grants = [{ service: 'orders', scopes: ['orders:read'] }];
  await addClient(server, { client_id: 'pss-client', grants, auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=pss-client' });
  const answer = await postToken(server.app, { grant_type: 'client_credentials' }, { 'x-ssl-client-cert': encodeURIComponent(cert.cert) });
  t.equal(answer.statusCode, 200, answer.body);
  // Found by no key either: a stranger's certificate is refused as any that matches no client.
  const stranger = issueCertificate({ subject: [['CN', 'stranger']], issuer: ca, publicKey });
  const refused = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { 'x-ssl-client-cert': encodeURIComponent(stranger.cert) },
  );
  t.equal(refused.statusCode, 400, 'invalid_client without an Authorization header: 400 (RFC 6749 §5.2)');
  t.match(refused.json(), { error: 'invalid_client' });
});
