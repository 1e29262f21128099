import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { auditEvents } from '../../src/db/schema.js';
import { certificateChainProblem, TrustBundles } from '../../src/tls/spiffe.js';
import { addClient, eventually, ISSUER } from '../helpers.js';
import { type Certificate, issueCertificate, makeCa } from '../pki.js';
import { type Answer, grants, type Listening, type RequestOptions, tlsSetup } from './harness.js';

/**
 * SPIFFE trust bundles (SPIFFE_TRUST_BUNDLES, tls/spiffe.ts) over real TLS sockets and the
 * proxy's header, with CAs made here: an X.509-SVID chains to its own trust domain's bundle
 * or is refused, whatever other CA the handshake accepted; the bundles are reloaded with the
 * TLS files; the single TLS_CLIENT_CA_FILE setup is unchanged.
 */

const { clientCa, dir, tlsFiles, listening, post } = tlsSetup(t, 'SPIFFE');
const caA = makeCa('a.example bundle CA');
const caB = makeCa('b.example bundle CA');
const bundleA = join(dir, 'a.pem');
const bundleB = join(dir, 'b.pem');
writeFileSync(bundleA, caA.cert);
writeFileSync(bundleB, caB.cert);
const spiffeTrustBundles = [
  { trustDomain: 'a.example', file: bundleA },
  { trustDomain: 'b.example', file: bundleB },
];

const svid = (issuer: Certificate, ...uri: string[]): Certificate => issueCertificate({ subject: [['O', 'SPIRE']], issuer, sans: { uri } });

/** A client-credentials request over HTTPS with a certificate (and the chain after it), or over HTTP with headers. */
const token = (port: number, form: Record<string, string>, options: Omit<RequestOptions, 'tls'> = {}): Promise<Answer> =>
  post(port, { grant_type: 'client_credentials', ...form }, { ...options, tls: options.headers === undefined });

/** The reason the audit trail has for a refusal of `clientId`. */
async function auditedReason(portier: Listening, clientId: string, pattern: RegExp): Promise<string | undefined> {
  const reasons = await eventually(
    async () => {
      await portier.app.portier.denials.flush();
      const rows = await portier.database.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, 'token.denied'), eq(auditEvents.clientId, clientId)));
      return rows.map((row) => String((row.details as Record<string, unknown>).reason));
    },
    (found) => found.some((reason) => pattern.test(reason)),
  );
  return reasons.find((reason) => pattern.test(reason));
}

const tlsClient = (clientId: string, uri: string) => ({
  client_id: clientId,
  grants,
  auth_method: 'tls_client_auth' as const,
  tls_client_auth_san_uri: uri,
});

t.test("TLS: an SVID chains to its own domain's bundle; another domain's CA cannot vouch for it", async (t) => {
  const portier = await listening(t, { tls: tlsFiles, spiffeTrustBundles });
  await addClient(portier, tlsClient('worker-a', 'spiffe://a.example/ns/prod/sa/worker'));
  await addClient(portier, tlsClient('worker-b', 'spiffe://b.example/ns/prod/sa/worker'));
  await addClient(portier, tlsClient('worker-c', 'spiffe://c.example/ns/prod/sa/worker'));

  const good = svid(caA, 'spiffe://a.example/ns/prod/sa/worker');
  const issued = await token(portier.port, { client_id: 'worker-a' }, { cert: good });
  t.equal(issued.status, 200, String(issued.json.error_description ?? 'issued'));
  t.equal(decodeJwt(String(issued.json.access_token)).client_id, 'worker-a');
  t.equal((await token(portier.port, {}, { cert: good })).status, 200, 'found by its SPIFFE ID without client_id');

  const intermediate = issueCertificate({ subject: [['CN', 'a.example intermediate']], issuer: caA, ca: true });

  // The attack: A's CA signs an SVID for B's workload. The handshake accepts it (A's CA is
  // one it asks for); the per-domain check does not.
  const forged = await token(portier.port, { client_id: 'worker-b' }, { cert: svid(caA, 'spiffe://b.example/ns/prod/sa/worker') });
  t.equal(forged.status, 400);
  t.equal(forged.json.error, 'invalid_client');
  t.match(
    await auditedReason(portier, 'worker-b', /b\.example's bundle/),
    /does not chain to b\.example's bundle: it is not signed by a CA of the bundle/,
  );
  // Nor through an intermediate of A's, nor for a domain without a bundle.
  const viaA = await token(
    portier.port,
    { client_id: 'worker-b' },
    { cert: svid(intermediate, 'spiffe://b.example/ns/prod/sa/worker'), chain: [intermediate] },
  );
  t.equal(viaA.json.error, 'invalid_client', "through A's intermediate");
  const noBundle = await token(portier.port, { client_id: 'worker-c' }, { cert: svid(caA, 'spiffe://c.example/ns/prod/sa/worker') });
  t.equal(noBundle.json.error, 'invalid_client', 'a domain without a bundle: only TLS_CLIENT_CA_FILE vouches');
  t.match(await auditedReason(portier, 'worker-c', /TLS_CLIENT_CA_FILE/), /does not chain to TLS_CLIENT_CA_FILE/);
  // A domain without a bundle with an SVID of TLS_CLIENT_CA_FILE's CA: as before bundles.
  t.equal(
    (await token(portier.port, { client_id: 'worker-c' }, { cert: svid(clientCa, 'spiffe://c.example/ns/prod/sa/worker') })).status,
    200,
  );
});

t.test('TLS: an expired SVID, two URI SANs, a malformed SPIFFE ID are refused', async (t) => {
  const portier = await listening(t, { tls: tlsFiles, spiffeTrustBundles });
  await addClient(portier, tlsClient('worker-a', 'spiffe://a.example/ns/prod/sa/worker'));
  const day = 24 * 3600_000;
  const expired = issueCertificate({
    subject: [['O', 'SPIRE']],
    issuer: caA,
    sans: { uri: ['spiffe://a.example/ns/prod/sa/worker'] },
    notBefore: new Date(Date.now() - 3 * day),
    notAfter: new Date(Date.now() - day),
  });
  const cases: Array<[string, Certificate, RegExp]> = [
    ['expired', expired, /expired/],
    ['two URI SANs', svid(caA, 'spiffe://a.example/ns/prod/sa/worker', 'https://a.example/worker'), /exactly one URI SAN, this one 2/],
    ['two SPIFFE IDs', svid(caA, 'spiffe://a.example/ns/prod/sa/worker', 'spiffe://a.example/ns/prod/sa/other'), /exactly one URI SAN/],
  ];
  for (const [name, cert, reason] of cases) {
    const answer = await token(portier.port, { client_id: 'worker-a' }, { cert });
    t.equal(answer.json.error, 'invalid_client', name);
    t.match(await auditedReason(portier, 'worker-a', reason), reason, `${name}: audited with the reason`);
  }
  await addClient(portier, tlsClient('upper', 'spiffe://A.example/ns/prod/sa/worker'));
  const upper = await token(portier.port, { client_id: 'upper' }, { cert: svid(caA, 'spiffe://A.example/ns/prod/sa/worker') });
  t.equal(upper.json.error, 'invalid_client', 'an upper-case trust domain is no SPIFFE ID');
  t.match(await auditedReason(portier, 'upper', /well-formed/), /not a well-formed SPIFFE ID/);
});

t.test("TLS: a bundle's CA vouches for nothing but its domain's SVIDs; TLS_CLIENT_CA_FILE's certificates keep working", async (t) => {
  const portier = await listening(t, { tls: tlsFiles, spiffeTrustBundles });
  await addClient(portier, { client_id: 'billing', grants, auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'billing.example' });
  const byBundle = issueCertificate({ subject: [['CN', 'billing']], issuer: caA, sans: { dns: ['billing.example'] } });
  t.equal((await token(portier.port, { client_id: 'billing' }, { cert: byBundle })).json.error, 'invalid_client');
  const byClientCa = issueCertificate({ subject: [['CN', 'billing']], issuer: clientCa, sans: { dns: ['billing.example'] } });
  t.equal((await token(portier.port, { client_id: 'billing' }, { cert: byClientCa })).status, 200);
});

t.test('the single TLS_CLIENT_CA_FILE setup is unchanged: an SVID of its CA works', async (t) => {
  const portier = await listening(t, { tls: tlsFiles });
  await addClient(portier, tlsClient('worker-a', 'spiffe://a.example/ns/prod/sa/worker'));
  t.equal(
    (await token(portier.port, { client_id: 'worker-a' }, { cert: svid(clientCa, 'spiffe://a.example/ns/prod/sa/worker') })).status,
    200,
  );
  const other = await token(portier.port, { client_id: 'worker-a' }, { cert: svid(caA, 'spiffe://a.example/ns/prod/sa/worker') });
  t.equal(other.json.error, 'invalid_client', 'a CA outside TLS_CLIENT_CA_FILE');
});

t.test('behind a proxy: the SVID in the header (and XFCC Chain) is checked against its domain bundle', async (t) => {
  const portier = await listening(t, { trustProxy: ['127.0.0.1'], clientCertHeader: 'x-forwarded-client-cert', spiffeTrustBundles });
  await addClient(portier, tlsClient('worker-a', 'spiffe://a.example/ns/prod/sa/worker'));
  await addClient(portier, tlsClient('worker-b', 'spiffe://b.example/ns/prod/sa/worker'));
  await addClient(portier, tlsClient('worker-c', 'spiffe://c.example/ns/prod/sa/worker'));
  const xfcc = (cert: Certificate, chain?: Certificate[]) => ({
    'x-forwarded-client-cert': `Hash=00;Cert="${encodeURIComponent(cert.cert)}"${chain === undefined ? '' : `;Chain="${encodeURIComponent([cert, ...chain].map((c) => c.cert).join(''))}"`}`,
  });
  const good = await token(portier.port, { client_id: 'worker-a' }, { headers: xfcc(svid(caA, 'spiffe://a.example/ns/prod/sa/worker')) });
  t.equal(good.status, 200, String(good.json.error_description ?? 'issued'));
  const forged = await token(portier.port, { client_id: 'worker-b' }, { headers: xfcc(svid(caA, 'spiffe://b.example/ns/prod/sa/worker')) });
  t.equal(forged.json.error, 'invalid_client', "A's CA for B's workload, from the proxy too");
  const intermediate = issueCertificate({ subject: [['CN', 'a.example intermediate']], issuer: caA, ca: true });
  const leaf = svid(intermediate, 'spiffe://a.example/ns/prod/sa/worker');
  t.equal(
    (await token(portier.port, { client_id: 'worker-a' }, { headers: xfcc(leaf) })).json.error,
    'invalid_client',
    'no chain: no path',
  );
  t.equal((await token(portier.port, { client_id: 'worker-a' }, { headers: xfcc(leaf, [intermediate]) })).status, 200, 'with Chain');
  // No bundle for c.example: the proxy verified it, as without bundles.
  t.equal(
    (await token(portier.port, { client_id: 'worker-c' }, { headers: xfcc(svid(caA, 'spiffe://c.example/ns/prod/sa/worker')) })).status,
    200,
  );
});

t.test('the bundles are read again on reload; an unusable file leaves the ones in use', async (t) => {
  const reloadDir = mkdtempSync(join(tmpdir(), 'portier-spiffe-reload-'));
  t.teardown(() => rmSync(reloadDir, { recursive: true, force: true }));
  const file = join(reloadDir, 'a.pem');
  writeFileSync(file, caA.cert);
  const portier = await listening(t, { tls: tlsFiles, spiffeTrustBundles: [{ trustDomain: 'a.example', file }] });
  await addClient(portier, tlsClient('worker-a', 'spiffe://a.example/ns/prod/sa/worker'));
  const renewedCa = makeCa('a.example renewed CA');
  const fromRenewed = svid(renewedCa, 'spiffe://a.example/ns/prod/sa/worker');
  t.equal(
    (await token(portier.port, { client_id: 'worker-a' }, { cert: fromRenewed })).json.error,
    'invalid_client',
    'not yet in the bundle',
  );
  writeFileSync(file, renewedCa.cert);
  t.same(portier.app.tls?.reload(), { reloaded: true });
  t.equal((await token(portier.port, { client_id: 'worker-a' }, { cert: fromRenewed })).status, 200, 'the new bundle');
  t.equal(
    (await token(portier.port, { client_id: 'worker-a' }, { cert: svid(caA, 'spiffe://a.example/ns/prod/sa/worker') })).json.error,
    'invalid_client',
    'the old CA is out',
  );
  writeFileSync(file, 'not a bundle');
  const outcome = portier.app.tls?.reload();
  t.equal(outcome?.reloaded, false);
  t.match(outcome?.reloaded === false ? outcome.error.message : '', /a\.pem: contains no PEM certificate/);
  t.equal((await token(portier.port, { client_id: 'worker-a' }, { cert: fromRenewed })).status, 200, 'the bundle in use stays');
});

t.test('SPIFFE_TRUST_BUNDLES: checked at start with a clear error', async (t) => {
  const env = { ISSUER, TLS_CERT_FILE: tlsFiles.certFile, TLS_KEY_FILE: tlsFiles.keyFile };
  t.same(
    loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: ` a.example=${bundleA} , b.example=${bundleB}` }).spiffeTrustBundles,
    spiffeTrustBundles,
  );
  t.throws(
    () => loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: bundleA }),
    /SPIFFE_TRUST_BUNDLES: .* is not <trust domain>=<path to PEM bundle>/,
  );
  t.throws(() => loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: `spiffe://a.example=${bundleA}` }), /is not a SPIFFE trust domain/);
  t.throws(() => loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: `a.example=${bundleA},a.example=${bundleB}` }), /a\.example is given twice/);
  t.throws(
    () => loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: `a.example=${join(dir, 'missing.pem')}` }),
    /SPIFFE_TRUST_BUNDLES: .*missing\.pem: cannot read it \(ENOENT\)/,
  );
  t.throws(() => loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: `a.example=${tlsFiles.keyFile}` }), /tls\.key: contains no PEM certificate/);
  t.throws(
    () => loadConfig({ ...env, SPIFFE_TRUST_BUNDLES: `a.example=${tlsFiles.certFile}` }),
    /tls\.crt: holds a certificate that is not a CA/,
  );
  t.throws(() => loadConfig({ ISSUER, SPIFFE_TRUST_BUNDLES: `a.example=${bundleA}` }), /neither TLS_CERT_FILE nor CLIENT_CERT_HEADER/);
});
t.test('a verdict is remembered per presented certificate, not past a reload or its validity', async (t) => {
  const reloadDir = mkdtempSync(join(tmpdir(), 'portier-spiffe-verdict-'));
  t.teardown(() => rmSync(reloadDir, { recursive: true, force: true }));
  const file = join(reloadDir, 'a.pem');
  writeFileSync(file, caA.cert);
  const trust = new TrustBundles([{ trustDomain: 'a.example', file }], undefined);
  const leaf = svid(caA, 'spiffe://a.example/ns/prod/sa/worker');
  const presented = { certificate: leaf.x509, intermediates: [], chainVerified: true, chainError: undefined, source: 'tls' as const };
  const now = Date.now();
  t.equal(certificateChainProblem(presented, trust, now), undefined, 'chains to its bundle');
  t.equal(certificateChainProblem(presented, trust, now), undefined, 'and again');
  t.match(
    certificateChainProblem(presented, trust, Date.parse(leaf.x509.validTo) + 1000),
    /not valid now/,
    'past its notAfter: not the remembered verdict',
  );
  const renewedCa = makeCa('a.example renewed CA');
  writeFileSync(file, renewedCa.cert);
  trust.use(trust.read(), undefined);
  t.match(certificateChainProblem(presented, trust, now), /does not chain to a\.example's bundle/, 'after a reload: checked again');
});
