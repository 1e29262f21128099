import type { X509Certificate } from 'node:crypto';
import ipaddr from 'ipaddr.js';

/**
 * What a certificate says of its subject, read from its DER (not from Node's printed
 * forms, whose escaping is OpenSSL's and whose separators a value may contain): the
 * subject's RDNs and the subject alternative names; and RFC 4514 strings, parsed and put in
 * a form two equal names share (RFC 4517 distinguishedNameMatch, with caseIgnoreMatch for
 * every value: what RFC 8705 §2.1.2 leaves to the server, done the usual way).
 */

/** One attribute of a name: the type's OID (dotted) and the value. */
export interface NameAttribute {
  type: string;
  value: string;
}

/** A distinguished name, RDN by RDN in the DER's order (the root first); an RDN has one attribute or more. */
export type DistinguishedName = NameAttribute[][];

export interface SubjectAltNames {
  dns: string[];
  uri: string[];
  /** Canonical text (ipaddr.js), IPv4 as dotted quad. */
  ip: string[];
  email: string[];
}

export interface CertificateNames {
  subject: DistinguishedName;
  sans: SubjectAltNames;
}

/** A certificate whose DER does not read as X.509 should be (Node parsed it, so this is seldom). */
export class CertificateFormatError extends Error {}

interface Element {
  tag: number;
  /** Where its content starts and ends in the buffer. */
  start: number;
  end: number;
}

function readElement(der: Buffer, offset: number): Element & { next: number } {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new CertificateFormatError('truncated');
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new CertificateFormatError('bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start + i] ?? 0);
    start += bytes;
  }
  const end = start + length;
  if (end > der.length) throw new CertificateFormatError('truncated');
  return { tag, start, end, next: end };
}

function children(der: Buffer, parent: Element): Element[] {
  const items: Element[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const item = readElement(der, offset);
    items.push(item);
    offset = item.next;
  }
  return items;
}

function decodeOid(bytes: Buffer): string {
  const first = bytes[0] ?? 0;
  const arcs = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** A directory string's text: UTF8String, PrintableString, IA5String, TeletexString (as Latin-1), BMPString, UniversalString. */
function decodeString(tag: number, bytes: Buffer): string {
  if (tag === 0x1e) {
    if (bytes.length % 2 !== 0) throw new CertificateFormatError('BMPString of odd length');
    return Buffer.from(bytes).swap16().toString('utf16le');
  }
  if (tag === 0x1c) {
    let text = '';
    for (let i = 0; i + 3 < bytes.length; i += 4) text += String.fromCodePoint(bytes.readUInt32BE(i));
    return text;
  }
  if (tag === 0x14) return bytes.toString('latin1');
  return bytes.toString('utf8');
}

/** The subject and subject alternative names of `certificate`. */
export function certificateNames(certificate: X509Certificate): CertificateNames {
  const der = certificate.raw;
  const cert = readElement(der, 0);
  const [tbs] = children(der, cert);
  if (tbs === undefined) throw new CertificateFormatError('no TBSCertificate');
  const fields = children(der, tbs);
  // Version [0] is optional: the subject is the sixth field with it, the fifth without.
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subjectElement = fields[offset + 4];
  if (subjectElement === undefined) throw new CertificateFormatError('no subject');
  const subject = children(der, subjectElement).map((rdn) =>
    children(der, rdn).map((attribute) => {
      const [type, value] = children(der, attribute);
      if (type === undefined || value === undefined) throw new CertificateFormatError('bad attribute');
      return { type: decodeOid(der.subarray(type.start, type.end)), value: decodeString(value.tag, der.subarray(value.start, value.end)) };
    }),
  );
  const sans: SubjectAltNames = { dns: [], uri: [], ip: [], email: [] };
  const extensionsWrapper = fields.find((field) => field.tag === 0xa3);
  const [extensions] = extensionsWrapper === undefined ? [] : children(der, extensionsWrapper);
  for (const extension of extensions === undefined ? [] : children(der, extensions)) {
    const parts = children(der, extension);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id === undefined || value === undefined || decodeOid(der.subarray(id.start, id.end)) !== '2.5.29.17') continue;
    const [names] = children(der, value);
    for (const name of names === undefined ? [] : children(der, names)) {
      const bytes = der.subarray(name.start, name.end);
      if (name.tag === 0x81) sans.email.push(bytes.toString('ascii'));
      else if (name.tag === 0x82) sans.dns.push(bytes.toString('ascii'));
      else if (name.tag === 0x86) sans.uri.push(bytes.toString('ascii'));
      else if (name.tag === 0x87 && (bytes.length === 4 || bytes.length === 16)) sans.ip.push(ipaddr.fromByteArray([...bytes]).toString());
    }
  }
  return { subject, sans };
}

/** The attribute type names RFC 4514 §3 knows, and a few more that certificates use, by OID. */
const ATTRIBUTE_TYPES: Record<string, string> = {
  cn: '2.5.4.3',
  sn: '2.5.4.4',
  serialnumber: '2.5.4.5',
  c: '2.5.4.6',
  l: '2.5.4.7',
  st: '2.5.4.8',
  street: '2.5.4.9',
  o: '2.5.4.10',
  ou: '2.5.4.11',
  title: '2.5.4.12',
  givenname: '2.5.4.42',
  dc: '0.9.2342.19200300.100.1.25',
  uid: '0.9.2342.19200300.100.1.1',
  emailaddress: '1.2.840.113549.1.9.1',
  e: '1.2.840.113549.1.9.1',
};

/** An RFC 4514 string that cannot be read, with what is wrong. */
export class DistinguishedNameSyntaxError extends Error {}

/**
 * Parses an RFC 4514 string (`CN=shop,O=Acme\, Inc.,C=NO`: the last RDN first) into the
 * DER's order. Escapes (`\,`, `\+`, `\\`, `\"`, hex pairs such as `\2C` or UTF-8 `\C3\A9`)
 * are resolved; a `#` hex value (BER) is refused.
 */
export function parseDistinguishedName(text: string): DistinguishedName {
  const rdns: DistinguishedName = [];
  let rdn: NameAttribute[] = [];
  let i = 0;
  const fail = (problem: string): never => {
    throw new DistinguishedNameSyntaxError(problem);
  };
  if (text.trim() === '') fail('is empty');
  while (i < text.length) {
    const equals = text.indexOf('=', i);
    if (equals < 0) fail(`"${text.slice(i)}" has no "="`);
    const typeText = text.slice(i, equals).trim();
    const type = /^\d+(\.\d+)+$/.test(typeText) ? typeText : ATTRIBUTE_TYPES[typeText.toLowerCase()];
    if (type === undefined) fail(`unknown attribute type "${typeText}" (use a name RFC 4514 lists, or the OID)`);
    i = equals + 1;
    if (text[i] === '#') fail('a #-hex (BER) value is not supported: write the value as text');
    const bytes: number[] = [];
    let ended: string | undefined;
    while (i < text.length) {
      const char = text[i] as string;
      if (char === ',' || char === '+') {
        ended = char;
        i++;
        break;
      }
      if (char === '\\') {
        const next = text.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(next)) {
          bytes.push(Number.parseInt(next, 16));
          i += 3;
          continue;
        }
        const escaped = text[i + 1];
        if (escaped === undefined) fail('ends with a lone "\\"');
        bytes.push(...Buffer.from(escaped as string, 'utf8'));
        i += 2;
        continue;
      }
      bytes.push(...Buffer.from(char, 'utf8'));
      i++;
    }
    rdn.push({ type: type as string, value: Buffer.from(bytes).toString('utf8') });
    if (ended !== '+') {
      rdns.push(rdn);
      rdn = [];
    }
    if (ended !== undefined && i >= text.length) fail(`ends with "${ended}"`);
  }
  // RFC 4514 writes the last RDN first.
  return rdns.reverse();
}

/**
 * The comparison form of a name: each value with outer spaces removed, inner runs of spaces
 * made one, and case folded (caseIgnoreMatch); the attributes of a multi-valued RDN sorted.
 * Two names match when their forms are equal.
 */
export function distinguishedNameKey(name: DistinguishedName): string {
  return JSON.stringify(
    name.map((rdn) =>
      rdn
        .map((attribute) => [attribute.type, attribute.value.trim().replace(/\s+/g, ' ').normalize('NFKC').toLowerCase()])
        .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? '') || (a[1] ?? '').localeCompare(b[1] ?? '')),
    ),
  );
}
