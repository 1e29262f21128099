import type { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import t, { type Test } from 'tap';
import {
  certificateFromEscapedPem,
  certificatesFromXfcc,
  MalformedCertificateHeader,
  readPresentedCertificate,
} from '../../src/tls/client-certificate.js';
import { httpsServerOptions, readTlsMaterial, TlsReloader } from '../../src/tls/termination.js';
import { type Certificate, issueCertificate, makeCa, serverCertificate } from '../pki.js';

/** The certificate headers of proxies that terminate TLS: Envoy's XFCC, nginx's escaped PEM, Traefik's and HAProxy's forms. */

const ca = makeCa('Header CA');
const client = issueCertificate({ subject: [['CN', 'header client']], issuer: ca, sans: { dns: ['client.example'] } });
const escaped = encodeURIComponent(client.cert);

t.test('Envoy XFCC: the Cert field of the one element', async (t) => {
  // What src/tls reads: the Cert field alone, when the proxy sent no Chain.
  const certificateFromXfcc = (value: string) => {
    const certificates = certificatesFromXfcc(value);
    t.equal(certificates.length, 1, 'no Chain: the Cert alone');
    return certificates[0] as X509Certificate;
  };
  const xfcc = `By=spiffe://example.org/portier;Hash=abc;Cert="${escaped}";Subject="CN=header client,O=\\"Acme, Inc.\\"";URI=;DNS=client.example`;
  t.equal(certificateFromXfcc(xfcc).fingerprint256, client.x509.fingerprint256);
  t.equal(certificateFromXfcc(`Cert=${escaped}`).fingerprint256, client.x509.fingerprint256, 'unquoted');
  t.throws(() => certificateFromXfcc(`Cert="${escaped}",Cert="${escaped}"`), MalformedCertificateHeader, 'two elements');
  t.throws(() => certificateFromXfcc('By=x;Hash=y'), /no Cert field/);
  t.throws(() => certificateFromXfcc(`Cert="${escaped}`), /unterminated quote/);
  t.throws(() => certificateFromXfcc(`Cert=${escaped};cert=${escaped}`), /Cert twice/);
  t.throws(() => certificateFromXfcc('garbage'), /without "key="/);
  t.throws(() => certificateFromXfcc(''), /0 elements/);
});

t.test('URL-encoded PEM, PEM without its lines, base64 DER', async (t) => {
  t.equal(certificateFromEscapedPem(escaped).fingerprint256, client.x509.fingerprint256, 'nginx');
  const bare = client.cert.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  t.equal(certificateFromEscapedPem(encodeURIComponent(bare)).fingerprint256, client.x509.fingerprint256, 'Traefik');
  t.equal(certificateFromEscapedPem(`${bare},${bare}`).fingerprint256, client.x509.fingerprint256, 'the first of a chain');
  t.equal(certificateFromEscapedPem(client.x509.raw.toString('base64')).fingerprint256, client.x509.fingerprint256, 'HAProxy');
  t.throws(() => certificateFromEscapedPem('%zz'), /percent-escape/);
  t.throws(() => certificateFromEscapedPem('not a certificate!'), /no PEM or base64/);
  t.throws(() => certificateFromEscapedPem('AAAA'), /no parseable X.509/);
  t.throws(() => certificateFromEscapedPem('A'.repeat(40_000)), /too long/);
});

/**
 * A connection's certificate is read once and remembered for it: the same object for each
 * request over a kept-alive connection, never another connection's, and read again after a
 * renegotiation, after a reload of the client CAs (then checked against the new ones), and
 * past the expiry of its chain.
 */

interface Served {
  port: number;
  /** The server side of the next connection, once its handshake is done. */
  nextSocket(): Promise<TLSSocket>;
  reloader: TlsReloader;
  caFile: string;
}

async function servedTls(t: Test, clientCa: Certificate): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'portier-socket-reading-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const serverCa = makeCa('Socket server CA');
  const serverCert = serverCertificate(serverCa);
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'client-ca.crt') };
  writeFileSync(files.certFile, serverCert.cert);
  writeFileSync(files.keyFile, serverCert.key);
  writeFileSync(files.clientCaFile, clientCa.cert);
  // TLS 1.2 at most: a client may renegotiate (TLS 1.3 has no renegotiation).
  const server = createHttpsServer({ ...httpsServerOptions(readTlsMaterial(files), [], 5000), maxVersion: 'TLSv1.2' });
  const reloader = new TlsReloader(server, files, undefined, () => {});
  const waiting: Array<(socket: TLSSocket) => void> = [];
  server.on('secureConnection', (socket: TLSSocket) => waiting.shift()?.(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as AddressInfo).port,
    nextSocket: () => new Promise((resolve) => waiting.push(resolve)),
    reloader,
    caFile: files.clientCaFile,
  };
}

async function connectWith(t: Test, served: Served, cert: Certificate): Promise<{ client: TLSSocket; server: TLSSocket }> {
  const server = served.nextSocket();
  let client: TLSSocket | undefined;
  await new Promise<void>((resolve) => {
    client = tlsConnect({ host: '127.0.0.1', port: served.port, cert: cert.cert, key: cert.key, rejectUnauthorized: false }, resolve);
    client.on('error', () => {});
  });
  const connected = client as TLSSocket;
  t.teardown(() => connected.destroy());
  return { client: connected, server: await server };
}

const read = (socket: TLSSocket) => readPresentedCertificate({ socket, headers: {}, header: undefined, fromTrustedProxy: false }).presented;

t.test('a kept-alive connection: its certificate read once, and never another connection’s', async (t) => {
  const ca = makeCa('Socket client CA');
  const served = await servedTls(t, ca);
  const alice = issueCertificate({ subject: [['CN', 'alice']], issuer: ca });
  const bob = issueCertificate({ subject: [['CN', 'bob']], issuer: ca });
  const first = await connectWith(t, served, alice);
  const second = await connectWith(t, served, bob);
  const once = read(first.server);
  t.equal(once?.certificate.subject, 'CN=alice');
  t.equal(once?.chainVerified, true, 'chains to the client CA');
  t.equal(read(first.server), once, 'the same reading for the next request of the connection');
  const other = read(second.server);
  t.equal(other?.certificate.subject, 'CN=bob', 'another connection shows its own certificate');
  t.not(other, once);
  const anonymous = (await connectWith(t, served, { ...alice, cert: '', key: '' } as Certificate)).server;
  t.equal(read(anonymous), undefined, 'a connection without a certificate shows none');
});

t.test('a renegotiation reads the certificate again', async (t) => {
  const ca = makeCa('Socket client CA');
  const served = await servedTls(t, ca);
  const { client, server } = await connectWith(t, served, issueCertificate({ subject: [['CN', 'carol']], issuer: ca }));
  const before = read(server);
  t.ok(before);
  const renegotiated = new Promise<void>((resolve) => server.once('secure', () => resolve()));
  client.resume();
  client.renegotiate({ rejectUnauthorized: false }, () => {});
  await renegotiated;
  const after = read(server);
  t.not(after, before, 'read anew');
  t.equal(after?.certificate.subject, 'CN=carol');
});

t.test('a reload of the client CAs: older connections are checked against the CAs now in use', async (t) => {
  const oldCa = makeCa('Old client CA');
  const newCa = makeCa('New client CA');
  const served = await servedTls(t, oldCa);
  const kept = await connectWith(t, served, issueCertificate({ subject: [['CN', 'kept']], issuer: oldCa }));
  const dropped = await connectWith(t, served, issueCertificate({ subject: [['CN', 'dropped']], issuer: oldCa }));
  t.equal(read(kept.server)?.chainVerified, true);
  t.equal(read(dropped.server)?.chainVerified, true);
  // Both CAs: a certificate of the old one still chains.
  writeFileSync(served.caFile, oldCa.cert + newCa.cert);
  t.same(served.reloader.reload(), { reloaded: true });
  t.equal(read(kept.server)?.chainVerified, true, 'still chains to a CA in use');
  // Only the new CA: the old CA's certificates no longer chain, on the connections already open too.
  writeFileSync(served.caFile, newCa.cert);
  t.same(served.reloader.reload(), { reloaded: true });
  const stale = read(dropped.server);
  t.equal(stale?.chainVerified, false, 'its CA was taken out: no longer vouched for');
  t.match(stale?.chainError, /after TLS_CLIENT_CA_FILE was reloaded/);
  const fresh = await connectWith(t, served, issueCertificate({ subject: [['CN', 'fresh']], issuer: newCa }));
  t.equal(read(fresh.server)?.chainVerified, true, 'a connection after the reload: the handshake’s own verdict');
});

t.test('a certificate that expires during the connection stops chaining', async (t) => {
  const ca = makeCa('Socket client CA');
  const served = await servedTls(t, ca);
  const brief = issueCertificate({ subject: [['CN', 'brief']], issuer: ca, notAfter: new Date(Date.now() + 2000) });
  const { server } = await connectWith(t, served, brief);
  const fresh = read(server);
  t.equal(fresh?.chainVerified, true, 'valid at first');
  await new Promise((resolve) => setTimeout(resolve, Date.parse(brief.x509.validTo) - Date.now() + 1100));
  const later = read(server);
  t.equal(later?.chainVerified, false, 'past its notAfter');
  t.equal(later?.chainError, 'CERT_HAS_EXPIRED');
});

t.test('a proxy’s header: parsed once per distinct certificate', async (t) => {
  const socket = new Socket();
  const fromProxy = (value: string) =>
    readPresentedCertificate({ socket, headers: { 'x-client-cert': value }, header: 'x-client-cert', fromTrustedProxy: true }).presented;
  const first = fromProxy(escaped);
  t.equal(first?.certificate.fingerprint256, client.x509.fingerprint256);
  t.equal(fromProxy(escaped), first, 'the same header: the same reading');
  const other = issueCertificate({ subject: [['CN', 'other']], issuer: ca });
  t.equal(fromProxy(encodeURIComponent(other.cert))?.certificate.subject, 'CN=other', 'another certificate: its own');
  t.throws(() => fromProxy('%zz'), MalformedCertificateHeader, 'an unreadable header still throws');
  socket.destroy();
});
