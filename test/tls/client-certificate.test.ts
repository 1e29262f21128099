import type { X509Certificate } from 'node:crypto';
import t from 'tap';
import { certificateFromEscapedPem, certificatesFromXfcc, MalformedCertificateHeader } from '../../src/tls/client-certificate.js';
import { issueCertificate, makeCa } from '../pki.js';

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
