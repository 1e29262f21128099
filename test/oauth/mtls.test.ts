import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { createLocalJWKSet, decodeJwt, exportJWK, jwtVerify } from 'jose';
import t from 'tap';
import { addCredential, listCredentials, removeCredential } from '../../src/clients/credentials.js';
import { auditEvents } from '../../src/db/schema.js';
import { addClient, build, CLI_ACTOR, eventually, refusalReasons } from '../helpers.js';
import { type Certificate, issueCertificate, makeCa } from '../pki.js';
import { AUDIENCE, grants, tlsSetup } from '../tls/harness.js';

/**
 * Client certificates as credentials (RFC 8705 §2) and certificate-bound tokens (§3), over
 * real TLS sockets on loopback, with a PKI made here: tls_client_auth by subject DN (RFC 4514
 * escapes) and by each kind of SAN (a SPIFFE X.509-SVID among them), self-signed
 * certificates, the refusals, the proxy header from trusted and untrusted addresses, a
 * resource server checking the binding, and curl with --cert.
 */

const { serverCa, clientCa, server, dir, tlsFiles, listening, post } = tlsSetup(t, 'mTLS');
const otherCa = makeCa('A CA Portier does not trust');

const x5t = (certificate: Certificate) => createHash('sha256').update(certificate.x509.raw).digest('base64url');

const token = { grant_type: 'client_credentials' };

t.test('tls_client_auth by subject DN: RFC 4514 escapes, case and spaces; with client_id and without', async (t) => {
  const portier = await listening(t);
  const { clientId } = await addClient(portier, {
    client_id: 'shop',
    grants,
    auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=shop\\+1,O=acme\\2C  inc.,C=NO',
  });
  const cert = issueCertificate({
    subject: [
      ['C', 'NO'],
      ['O', 'Acme, Inc.'],
      ['CN', 'shop+1'],
    ],
    issuer: clientCa,
  });
  const answer = await post(portier.port, { ...token, client_id: clientId }, { cert });
  t.equal(answer.status, 200, String(answer.json.error_description ?? 'issued'));
  t.equal(answer.json.token_type, 'Bearer');
  const claims = decodeJwt(String(answer.json.access_token));
  t.same(claims.cnf, { 'x5t#S256': x5t(cert) }, 'bound to the certificate');
  t.equal(claims.client_id, 'shop');

  const found = await post(portier.port, token, { cert });
  t.equal(found.status, 200, 'found by its certificate without client_id');
  t.equal(decodeJwt(String(found.json.access_token)).client_id, 'shop');

  // Introspection by the same client (with its certificate) shows the binding.
  const introspection = await post(portier.port, { token: String(answer.json.access_token) }, { cert, path: '/oauth/introspect' });
  t.equal(introspection.status, 200);
  t.same(introspection.json.cnf, { 'x5t#S256': x5t(cert) });
  t.equal(introspection.json.active, true);

  const resource = await portier.app.inject({
    method: 'GET',
    url: `/admin/clients/shop`,
    headers: { authorization: `Bearer ${answer.json.access_token}` },
  });
  t.equal(resource.statusCode, 401, 'a bound token is no bearer token for the admin API');
});

t.test('tls_client_auth by each kind of SAN, a SPIFFE X.509-SVID among them', async (t) => {
  const portier = await listening(t);
  const kinds = {
    dns: { field: 'tls_client_auth_san_dns', registered: 'Billing.Example.com', sans: { dns: ['billing.example.com'] } },
    svid: {
      field: 'tls_client_auth_san_uri',
      registered: 'spiffe://prod.example.org/ns/payments/sa/worker',
      sans: { uri: ['spiffe://prod.example.org/ns/payments/sa/worker'] },
    },
    ip: { field: 'tls_client_auth_san_ip', registered: '2001:DB8::7', sans: { ip: ['2001:db8::7'] } },
    email: { field: 'tls_client_auth_san_email', registered: 'robot@Example.ORG', sans: { email: ['robot@example.org'] } },
  } as const;
  for (const [name, kind] of Object.entries(kinds)) {
    await addClient(portier, { client_id: `san-${name}`, grants, auth_method: 'tls_client_auth', [kind.field]: kind.registered });
    const cert = issueCertificate({ subject: [['CN', `not the ${name} client's subject`]], issuer: clientCa, sans: kind.sans });
    const answer = await post(portier.port, token, { cert });
    t.equal(answer.status, 200, `${name}: ${String(answer.json.error_description ?? 'issued')}`);
    t.equal(decodeJwt(String(answer.json.access_token)).client_id, `san-${name}`);
  }
  // An SVID of another workload of the same trust domain is not this client.
  const other = issueCertificate({ subject: [], issuer: clientCa, sans: { uri: ['spiffe://prod.example.org/ns/payments/sa/other'] } });
  t.equal((await post(portier.port, token, { cert: other })).json.error, 'invalid_client');
});

t.test('refusals: expired, not yet valid, another CA, no match, two matches, another client', async (t) => {
  const portier = await listening(t);
  await addClient(portier, { client_id: 'api-a', grants, auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a.example' });
  await addClient(portier, { client_id: 'api-a2', grants, auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=twice' });
  await addClient(portier, { client_id: 'api-b', grants, auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'b.example' });
  const { clientId: secretClient } = await addClient(portier, { client_id: 'secret-client', grants });
  const day = 24 * 3600_000;
  const cases: Array<[string, Certificate, Record<string, string>, RegExp]> = [
    [
      'expired',
      issueCertificate({
        subject: [['CN', 'a']],
        issuer: clientCa,
        sans: { dns: ['a.example'] },
        notBefore: new Date(Date.now() - 3 * day),
        notAfter: new Date(Date.now() - day),
      }),
      { client_id: 'api-a' },
      /expired/,
    ],
    [
      'not yet valid',
      issueCertificate({
        subject: [['CN', 'a']],
        issuer: clientCa,
        sans: { dns: ['a.example'] },
        notBefore: new Date(Date.now() + day),
        notAfter: new Date(Date.now() + 3 * day),
      }),
      { client_id: 'api-a' },
      /not valid before/,
    ],
    [
      'another CA',
      issueCertificate({ subject: [['CN', 'a']], issuer: otherCa, sans: { dns: ['a.example'] } }),
      { client_id: 'api-a' },
      /does not chain to TLS_CLIENT_CA_FILE/,
    ],
    ['no match', issueCertificate({ subject: [['CN', 'c']], issuer: clientCa, sans: { dns: ['c.example'] } }), {}, /matches no client/],
    [
      'two matches',
      issueCertificate({ subject: [['CN', 'twice']], issuer: clientCa, sans: { dns: ['a.example'] } }),
      {},
      /matches 2 clients/,
    ],
    [
      'another client',
      issueCertificate({ subject: [['CN', 'b']], issuer: clientCa, sans: { dns: ['b.example'] } }),
      { client_id: 'api-a' },
      /does not show/,
    ],
    [
      'a secret client',
      issueCertificate({ subject: [['CN', 'a']], issuer: clientCa, sans: { dns: ['a.example'] } }),
      { client_id: secretClient },
      /not a certificate/,
    ],
  ];
  for (const [name, cert, form] of cases) {
    const answer = await post(portier.port, { ...token, ...form }, { cert });
    // 400: RFC 6749 §5.2 asks for 401 only of a client that authenticated with the Authorization header.
    t.equal(answer.status, 400, name);
    t.equal(answer.json.error, 'invalid_client', name);
  }
  // One wait for the log's window of repeats, for all the cases: each reason differs, so each is a line of its own.
  const reasons = await refusalReasons(portier.logs);
  t.equal(reasons.length, cases.length, 'one logged refusal per case');
  for (const [index, [name, , , reason]] of cases.entries()) t.match(reasons[index], reason, `${name}: the reason is logged`);
  t.equal((await post(portier.port, { ...token, client_id: 'api-a' })).json.error, 'invalid_client', 'no certificate at all');
});

t.test('self_signed_tls_client_auth: the certificate carries a registered key', async (t) => {
  const portier = await listening(t);
  const own = issueCertificate({ subject: [['CN', 'self-signed device']] });
  const jwk = await exportJWK(own.x509.publicKey);
  await addClient(portier, { client_id: 'device', grants, auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwk] } });
  const answer = await post(portier.port, { ...token, client_id: 'device' }, { cert: own });
  t.equal(answer.status, 200, String(answer.json.error_description ?? 'issued'));
  t.same(decodeJwt(String(answer.json.access_token)).cnf, { 'x5t#S256': x5t(own) });
  t.equal((await post(portier.port, token, { cert: own })).status, 200, 'found by its key without client_id');
  // A new certificate for the same key (renewed) still works; another key does not.
  const renewed = issueCertificate({ subject: [['CN', 'same key, new certificate']] });
  t.equal((await post(portier.port, { ...token, client_id: 'device' }, { cert: renewed })).json.error, 'invalid_client', 'another key');
});

t.test("self_signed_tls_client_auth: the client's public-key credentials are its keys, added and removed as any", async (t) => {
  const portier = await listening(t);
  const first = issueCertificate({ subject: [['CN', 'device, first key']] });
  await addClient(portier, {
    client_id: 'rotating-device',
    grants,
    auth_method: 'self_signed_tls_client_auth',
    jwks: { keys: [await exportJWK(first.x509.publicKey)] },
  });
  const second = issueCertificate({ subject: [['CN', 'device, second key']] });
  const refusedBefore = await post(portier.port, { ...token, client_id: 'rotating-device' }, { cert: second });
  t.equal(refusedBefore.json.error, 'invalid_client', 'a key not registered yet');
  const settings = { maxPerClient: 10, secretPrefix: 'portier' };
  const added = await addCredential(
    portier.database.db,
    'rotating-device',
    { kind: 'public_key', pem: second.cert },
    CLI_ACTOR,
    Date.now(),
    settings,
  );
  portier.app.portier.generation.changed();
  const answer = await post(portier.port, token, { cert: second });
  t.equal(answer.status, 200, String(answer.json.error_description ?? 'the added key, found without client_id'));
  t.equal(decodeJwt(String(answer.json.access_token)).client_id, 'rotating-device');
  const [firstCredential] = await listCredentials(portier.database.db, 'rotating-device', Date.now());
  t.not(firstCredential?.id, added.credential.id);
  await removeCredential(portier.database.db, 'rotating-device', String(firstCredential?.id), CLI_ACTOR, Date.now());
  portier.app.portier.generation.changed();
  t.equal((await post(portier.port, { ...token, client_id: 'rotating-device' }, { cert: first })).json.error, 'invalid_client', 'removed');
  t.equal((await post(portier.port, token, { cert: first })).json.error, 'invalid_client', 'removed, and found by no client');
  t.equal((await post(portier.port, token, { cert: second })).status, 200, 'the other key still works');
});

t.test('a secret client with bound tokens must present a certificate', async (t) => {
  const portier = await listening(t);
  const { clientId, clientSecret } = await addClient(portier, { grants, tls_client_certificate_bound_access_tokens: true });
  const cert = issueCertificate({ subject: [['CN', 'anything']], issuer: otherCa });
  const bound = await post(portier.port, { ...token, client_id: clientId, client_secret: clientSecret }, { cert });
  t.equal(bound.status, 200, String(bound.json.error_description ?? 'issued'));
  t.same(decodeJwt(String(bound.json.access_token)).cnf, { 'x5t#S256': x5t(cert) });
  const without = await post(portier.port, { ...token, client_id: clientId, client_secret: clientSecret });
  t.equal(without.status, 400);
  t.equal(without.json.error, 'invalid_request');
});

t.test('a resource server checks the binding: the thumbprint of the certificate it is shown', async (t) => {
  const portier = await listening(t);
  await addClient(portier, { client_id: 'caller', grants, auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'caller.example' });
  const cert = issueCertificate({ subject: [['CN', 'caller']], issuer: clientCa, sans: { dns: ['caller.example'] } });
  const issued = await post(portier.port, token, { cert });
  const accessToken = String(issued.json.access_token);
  const jwks = (await portier.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  const keys = createLocalJWKSet(jwks);

  // The API: mutual TLS too, and the token's cnf.x5t#S256 must be the presented certificate's.
  const api = createHttpsServer(
    { cert: server.cert, key: server.key, ca: clientCa.cert, requestCert: true, rejectUnauthorized: true },
    async (req, res) => {
      try {
        const { payload } = await jwtVerify(String(req.headers.authorization).replace(/^Bearer /, ''), keys, { audience: AUDIENCE });
        const presented = (req.socket as TLSSocket).getPeerX509Certificate();
        const thumbprint = presented === undefined ? undefined : createHash('sha256').update(presented.raw).digest('base64url');
        const bound = (payload.cnf as Record<string, string> | undefined)?.['x5t#S256'];
        res.writeHead(bound !== undefined && bound === thumbprint ? 200 : 401).end();
      } catch {
        res.writeHead(401).end();
      }
    },
  );
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  t.teardown(() => api.close());
  const apiPort = (api.address() as AddressInfo).port;
  const call = (with_: Certificate) =>
    new Promise<number>((resolve, reject) => {
      httpsRequest(
        {
          host: '127.0.0.1',
          port: apiPort,
          ca: serverCa.cert,
          servername: 'localhost',
          agent: false,
          cert: with_.cert,
          key: with_.key,
          headers: { authorization: `Bearer ${accessToken}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
  t.equal(await call(cert), 200, 'with the certificate the token is bound to');
  const thief = issueCertificate({ subject: [['CN', 'caller']], issuer: clientCa, sans: { dns: ['caller.example'] } });
  t.equal(await call(thief), 401, 'a stolen token with another certificate, even one with the same names');
});

t.test('behind a proxy: the header from a trusted address, and from an untrusted one', async (t) => {
  const portier = await listening(t, { trustProxy: ['127.0.0.1'], clientCertHeader: 'x-ssl-client-cert' });
  await addClient(portier, { client_id: 'proxied', grants, auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'proxied.example' });
  const cert = issueCertificate({ subject: [['CN', 'proxied']], issuer: clientCa, sans: { dns: ['proxied.example'] } });
  const header = { 'x-ssl-client-cert': encodeURIComponent(cert.cert) };
  const trusted = await post(portier.port, token, { tls: false, headers: header, localAddress: '127.0.0.1' });
  t.equal(trusted.status, 200, String(trusted.json.error_description ?? 'issued'));
  t.same(decodeJwt(String(trusted.json.access_token)).cnf, { 'x5t#S256': x5t(cert) });

  const untrusted = await post(portier.port, token, { tls: false, headers: header, localAddress: '127.0.0.2' });
  t.equal(untrusted.json.error, 'invalid_client', 'ignored: no client authentication');
  // The denial is recorded as the answer goes (audit/denials.ts): wait for its row.
  const suspicious = (events: Array<typeof auditEvents.$inferSelect>) =>
    events.some(
      (event) => (event.details as Record<string, unknown>).error === 'suspicious_certificate_header' && event.ip === '127.0.0.2',
    );
  const events = await eventually(async () => {
    await portier.app.portier.denials.flush();
    return portier.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
  }, suspicious);
  t.ok(suspicious(events), 'audited as suspicious');

  const malformed = await post(portier.port, token, { tls: false, headers: { 'x-ssl-client-cert': 'not%zz' }, localAddress: '127.0.0.1' });
  t.equal(malformed.status, 400);
  t.equal(malformed.json.error, 'invalid_request');
  t.equal(
    (await post(portier.port, token, { tls: false, headers: { 'x-ssl-client-cert': '' }, localAddress: '127.0.0.1' })).json.error,
    'invalid_client',
    'empty: none',
  );
});

t.test("Envoy's XFCC header", async (t) => {
  const portier = await listening(t, { trustProxy: ['127.0.0.1'], clientCertHeader: 'x-forwarded-client-cert' });
  await addClient(portier, {
    client_id: 'meshed',
    grants,
    auth_method: 'tls_client_auth',
    tls_client_auth_san_uri: 'spiffe://mesh.example/ns/a/sa/b',
  });
  const svid = issueCertificate({ subject: [], issuer: clientCa, sans: { uri: ['spiffe://mesh.example/ns/a/sa/b'] } });
  const xfcc = `By=spiffe://mesh.example/ns/portier/sa/portier;Hash=00;Cert="${encodeURIComponent(svid.cert)}";URI=spiffe://mesh.example/ns/a/sa/b`;
  const answer = await post(portier.port, token, { tls: false, headers: { 'x-forwarded-client-cert': xfcc } });
  t.equal(answer.status, 200, String(answer.json.error_description ?? 'issued'));
  const appended = await post(portier.port, token, { tls: false, headers: { 'x-forwarded-client-cert': `${xfcc},${xfcc}` } });
  t.equal(appended.status, 400, 'two elements: the edge appended to what a client sent');
});

t.test('curl with --cert', async (t) => {
  const portier = await listening(t);
  await addClient(portier, {
    client_id: 'cron',
    grants,
    auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=cron job,O=Example',
  });
  const cert = issueCertificate({
    subject: [
      ['O', 'Example'],
      ['CN', 'cron job'],
    ],
    issuer: clientCa,
  });
  writeFileSync(join(dir, 'cron.crt'), cert.cert);
  writeFileSync(join(dir, 'cron.key'), cert.key);
  writeFileSync(join(dir, 'server-ca.crt'), serverCa.cert);
  const { stdout } = await promisify(execFile)('curl', [
    '-s',
    '--cacert',
    join(dir, 'server-ca.crt'),
    '--cert',
    join(dir, 'cron.crt'),
    '--key',
    join(dir, 'cron.key'),
    `https://localhost:${portier.port}/oauth/token`,
    '-d',
    'grant_type=client_credentials',
    '-d',
    'client_id=cron',
  ]);
  const answer = JSON.parse(stdout) as Record<string, unknown>;
  t.same(decodeJwt(String(answer.access_token)).cnf, { 'x5t#S256': x5t(cert) });
});

t.test('discovery: the certificate methods and aliases only where a certificate can arrive', async (t) => {
  const plain = await build(t);
  const without = (await plain.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json();
  t.notOk(without.token_endpoint_auth_methods_supported.includes('tls_client_auth'));
  t.equal(without.tls_client_certificate_bound_access_tokens, undefined);
  t.equal(without.mtls_endpoint_aliases, undefined);

  const withTls = await build(t, { config: { tls: tlsFiles, mtlsBaseUrl: 'https://mtls.portier.test' } });
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const document = (await withTls.app.inject({ method: 'GET', url: path })).json();
    t.ok(document.token_endpoint_auth_methods_supported.includes('tls_client_auth'), path);
    t.ok(document.introspection_endpoint_auth_methods_supported.includes('self_signed_tls_client_auth'), path);
    t.equal(document.tls_client_certificate_bound_access_tokens, true, path);
    t.same(document.mtls_endpoint_aliases, {
      token_endpoint: 'https://mtls.portier.test/oauth/token',
      introspection_endpoint: 'https://mtls.portier.test/oauth/introspect',
      revocation_endpoint: 'https://mtls.portier.test/oauth/revoke',
    });
  }
  const behindProxy = await build(t, { config: { trustProxy: ['10.0.0.1'], clientCertHeader: 'x-forwarded-client-cert' } });
  const proxied = (await behindProxy.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json();
  t.ok(proxied.token_endpoint_auth_methods_supported.includes('tls_client_auth'), 'with the header');
});
