import { generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIPv4 } from 'node:net';

/**
 * A small PKI made in the test with node:crypto alone (no openssl binary, no library): CAs,
 * server and client certificates with the subject, SANs and validity a test needs, and the
 * self-signed server certificate most HTTPS tests need, X.509 v3 DER-encoded by hand. EC
 * P-256 keys, ECDSA with SHA-256.
 */

/** A distinguished name, RDN by RDN from the root (as the DER has it): each an attribute type OID (or short name) and value. */
export type DistinguishedName = Array<[string, string]>;

const ATTRIBUTE_OIDS: Record<string, string> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  serialNumber: '2.5.4.5',
  DC: '0.9.2342.19200300.100.1.25',
  emailAddress: '1.2.840.113549.1.9.1',
};

export interface SubjectAltNames {
  dns?: readonly string[];
  uri?: readonly string[];
  ip?: readonly string[];
  email?: readonly string[];
}

export interface Certificate {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PKCS#8 PEM. */
  key: string;
  privateKey: KeyObject;
  x509: X509Certificate;
  /** The subject as DER, the issuer name of what it signs. */
  subjectDer: Buffer;
}

export interface CertificateOptions {
  subject: DistinguishedName;
  /** The CA that signs it; none: self-signed. */
  issuer?: Certificate;
  /**
   * true: a CA (basicConstraints cA, keyUsage keyCertSign and cRLSign). 'anchor': cA but no
   * keyUsage, a self-signed server certificate that a client trusts by passing it as `ca`.
   */
  ca?: boolean | 'anchor';
  sans?: SubjectAltNames;
  notBefore?: Date;
  notAfter?: Date;
  /** The subject's public key, of any type; give the issuer that signs it. Default: a new P-256 key. */
  publicKey?: KeyObject;
}

/** Issues a certificate (valid from an hour ago for a day, unless said otherwise). */
export function issueCertificate(options: CertificateOptions): Certificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = (options.publicKey ?? publicKey).export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const subjectDer = encodeName(options.subject);
  const issuerDer = options.issuer?.subjectDer ?? subjectDer;
  const signingKey = options.issuer?.privateKey ?? privateKey;
  const now = Date.now();
  const validity = seq(time(options.notBefore ?? new Date(now - 3600_000)), time(options.notAfter ?? new Date(now + 24 * 3600_000)));
  const extensions: Buffer[] = [
    // basicConstraints, critical for a CA.
    options.ca !== undefined && options.ca !== false
      ? seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff])))))
      : seq(oid('2.5.29.19'), tlv(0x04, seq())),
  ];
  if (options.ca === true) {
    // keyUsage: keyCertSign, cRLSign.
    extensions.push(seq(oid('2.5.29.15'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x01, 0x06])))));
  }
  const sans = options.sans;
  if (sans !== undefined) {
    const names = [
      ...(sans.email ?? []).map((email) => tlv(0x81, Buffer.from(email, 'ascii'))),
      ...(sans.dns ?? []).map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))),
      ...(sans.uri ?? []).map((uri) => tlv(0x86, Buffer.from(uri, 'ascii'))),
      ...(sans.ip ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
    ];
    extensions.push(seq(oid('2.5.29.17'), tlv(0x04, seq(...names))));
  }
  const serial = tlv(0x02, Buffer.concat([Buffer.from([0x01]), randomBytes(8)]));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    serial,
    ecdsaWithSha256,
    issuerDer,
    validity,
    subjectDer,
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, signingKey);
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  return {
    cert,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey,
    x509: new X509Certificate(der),
    subjectDer,
  };
}

/** A CA named `name`. */
export function makeCa(name: string, issuer?: Certificate): Certificate {
  return issueCertificate({ subject: [['CN', name]], ca: true, ...(issuer !== undefined && { issuer }) });
}

/** The names a test server answers on. */
const LOOPBACK_NAMES: SubjectAltNames = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] };

/** A server certificate for 127.0.0.1, ::1 and localhost. */
export function serverCertificate(ca: Certificate, name = 'portier'): Certificate {
  return issueCertificate({ subject: [['CN', name]], issuer: ca, sans: LOOPBACK_NAMES });
}

/** A self-signed server certificate for 127.0.0.1, ::1 and localhost: trust it by passing `cert` as the CA. */
export function selfSignedCertificate(commonName = 'portier test'): Certificate {
  return issueCertificate({ subject: [['CN', commonName]], ca: 'anchor', sans: LOOPBACK_NAMES });
}

function encodeName(name: DistinguishedName): Buffer {
  return seq(
    ...name.map(([type, value]) => {
      const valueTag = type === 'C' ? 0x13 : type === 'emailAddress' || type === 'DC' ? 0x16 : 0x0c;
      return set(seq(oid(ATTRIBUTE_OIDS[type] ?? type), tlv(valueTag, Buffer.from(value, 'utf8'))));
    }),
  );
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(ip.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
  return Buffer.concat(all.map((group) => Buffer.from(group.padStart(4, '0'), 'hex')));
}

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  return Buffer.concat([header, content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}
