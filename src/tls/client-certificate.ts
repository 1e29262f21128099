import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { chainProblem } from './spiffe.js';
import { clientCaEpoch, handshakeGeneration } from './termination.js';

/**
 * The certificate a client presented, wherever it came from: the TLS handshake with Portier
 * itself, or the header a trusted proxy that terminated TLS put it in (CLIENT_CERT_HEADER).
 * What the certificate proves about a client is clients/certificates.ts's business.
 */

/** Envoy's header (XFCC): `Key=value` pairs separated by `;`, the client certificate in `Cert`. */
export const XFCC_HEADER = 'x-forwarded-client-cert';

/** The certificate of a request. */
export interface PresentedCertificate {
  certificate: X509Certificate;
  /**
   * The certificates sent after it (the handshake's peer chain; a header's further PEM
   * blocks, or XFCC's `Chain`): candidates for the path to a SPIFFE bundle (tls/spiffe.ts).
   */
  intermediates: X509Certificate[];
  /**
   * It chains to TLS_CLIENT_CA_FILE (TLS with Portier, checked by the handshake), or a
   * trusted proxy passed it on, which verifies what it passes (see docs/mtls.md).
   */
  chainVerified: boolean;
  /** Why it does not chain (OpenSSL's code, such as CERT_HAS_EXPIRED or UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  chainError: string | undefined;
  source: 'tls' | 'header';
}

/** A certificate header that cannot be read: the request is an invalid_request. */
export class MalformedCertificateHeader extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'MalformedCertificateHeader';
  }
}

/** What a request's certificate is read from, and with which settings. */
export interface CertificateSource {
  socket: Socket;
  headers: IncomingHttpHeaders;
  /** CLIENT_CERT_HEADER, lower case; undefined: none is read. */
  header: string | undefined;
  /** Whether the connecting address (the socket's peer, not X-Forwarded-For) is a proxy TRUST_PROXY trusts. */
  fromTrustedProxy: boolean;
}

/** The outcome: a certificate or none, and whether a certificate header came from an address that may not send one (ignored). */
export interface CertificateReading {
  presented: PresentedCertificate | undefined;
  /** A certificate header came from an address TRUST_PROXY does not trust: ignored, and worth an audit line. */
  untrustedHeader: boolean;
}

/** Longest certificate header read: a certificate with a chain is a few KiB; URL-encoding roughly doubles it. */
const MAX_HEADER_LENGTH = 32 * 1024;

/**
 * The request's client certificate. With CLIENT_CERT_HEADER set and the header sent by a
 * trusted proxy, the header's (a proxy that connects to Portier with TLS shows its own
 * certificate in the handshake, not the client's); from any other address the header is
 * ignored, and the handshake's certificate, if any, is the one. Throws
 * MalformedCertificateHeader for a header that cannot be read.
 */
export function readPresentedCertificate(source: CertificateSource): CertificateReading {
  const headerValue = source.header === undefined ? undefined : source.headers[source.header];
  // Empty: no certificate (nginx sends $ssl_client_escaped_cert empty for a client without one).
  if (headerValue !== undefined && headerValue !== '') {
    if (!source.fromTrustedProxy) return { presented: fromSocket(source.socket), untrustedHeader: true };
    if (Array.isArray(headerValue)) throw new MalformedCertificateHeader(`${source.header} sent more than once`);
    return { presented: fromHeader(source.header as string, headerValue), untrustedHeader: false };
  }
  return { presented: fromSocket(source.socket), untrustedHeader: false };
}

/**
 * What a connection's handshake showed, read once per connection rather than per request
 * (the peer chain and its X.509 objects cost more than the rest of a keep-alive token
 * request): the same socket always shows the same certificate, until it renegotiates (then
 * the entry is dropped), the client CAs are reloaded (then it is read and checked again), or
 * a certificate of its chain expires (`until`). Keyed by the socket itself: never shared
 * between connections, and gone with the connection.
 */
interface SocketReading {
  presented: PresentedCertificate | undefined;
  /** The reload generation of the server's client CAs it was read in (tls/termination.ts). */
  generation: number;
  /** The earliest notAfter of the certificate and its chain (ms): past it, the chain no longer vouches. */
  until: number;
}

const socketReadings = new WeakMap<TLSSocket, SocketReading>();

function fromSocket(socket: Socket): PresentedCertificate | undefined {
  if (!('encrypted' in socket)) return undefined;
  const tls = socket as TLSSocket;
  const now = Date.now();
  // Node sets `server` on the sockets an HTTPS server accepts; its type does not say so.
  const epoch = clientCaEpoch((tls as TLSSocket & { server?: object }).server);
  const generation = epoch?.generation ?? 0;
  const cached = socketReadings.get(tls);
  if (cached !== undefined && cached.generation === generation && now <= cached.until) return cached.presented;
  // A renegotiation may show another certificate; the `secure` it ends with drops the entry.
  if (cached === undefined) tls.once('secure', () => socketReadings.delete(tls));
  let presented = readSocket(tls);
  let until = Number.POSITIVE_INFINITY;
  if (presented !== undefined) {
    for (const certificate of [presented.certificate, ...presented.intermediates]) until = Math.min(until, Date.parse(certificate.validTo));
    // The handshake's verdict stands for its own CAs and its own moment: a connection older
    // than the last reload must chain to the CAs now in use, and an expired chain vouches for nothing.
    const stale = handshakeGeneration(tls) !== generation ? staleProblem(presented, epoch?.cas, now) : undefined;
    const expired = now > until ? 'CERT_HAS_EXPIRED' : undefined;
    const problem = expired ?? stale;
    if (presented.chainVerified && problem !== undefined) presented = { ...presented, chainVerified: false, chainError: problem };
  }
  // An expired chain stays expired: kept until a reload or renegotiation, not read again per request.
  socketReadings.set(tls, { presented, generation, until: now > until ? Number.POSITIVE_INFINITY : until });
  return presented;
}

/** Why a chain verified by an older handshake does not chain to the client CAs now in use; undefined when it does. */
function staleProblem(presented: PresentedCertificate, cas: readonly X509Certificate[] | undefined, now: number): string | undefined {
  if (cas === undefined) return 'TLS_CLIENT_CA_FILE was reloaded without client CAs';
  const problem = chainProblem(presented.certificate, presented.intermediates, cas, now);
  return problem === undefined ? undefined : `after TLS_CLIENT_CA_FILE was reloaded: ${problem}`;
}

function readSocket(tls: TLSSocket): PresentedCertificate | undefined {
  const certificate = tls.getPeerX509Certificate();
  if (certificate === undefined) return undefined;
  const chainError = tls.authorized ? undefined : String(tls.authorizationError ?? 'not verified');
  return { certificate, intermediates: peerChain(tls), chainVerified: tls.authorized, chainError, source: 'tls' };
}

/** Certificate headers read lately, by a hash of the header's name and value: a proxy sends the same few again and again. */
const headerReadings = new Map<string, PresentedCertificate>();
/** Distinct headers remembered: the least recently read is forgotten first. */
const MAX_HEADER_READINGS = 256;

/**
 * The certificate of a trusted proxy's header, parsed once per distinct header: what the
 * proxy passes on it verified, so the same bytes always read as the same certificate, and
 * its validity is still checked per request by whoever uses it (clients/certificates.ts,
 * oauth/client-auth). A header that cannot be read throws, and is not remembered.
 */
function fromHeader(header: string, value: string): PresentedCertificate {
  const key = createHash('sha256').update(header).update('\0').update(value).digest('base64');
  const cached = headerReadings.get(key);
  if (cached !== undefined) {
    // Most recently used last: Map keeps insertion order.
    headerReadings.delete(key);
    headerReadings.set(key, cached);
    return cached;
  }
  const [certificate, ...intermediates] = header === XFCC_HEADER ? certificatesFromXfcc(value) : certificatesFromEscapedPem(value);
  const presented: PresentedCertificate = {
    certificate: certificate as X509Certificate,
    intermediates,
    chainVerified: true,
    chainError: undefined,
    source: 'header',
  };
  headerReadings.set(key, presented);
  if (headerReadings.size > MAX_HEADER_READINGS) headerReadings.delete(headerReadings.keys().next().value as string);
  return presented;
}

/** The certificates after the peer's own in the handshake (Node links them by issuerCertificate; the last one links to itself). */
function peerChain(tls: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current = tls.getPeerCertificate(true);
  const seen = new Set<string>([current.fingerprint256]);
  while (current.issuerCertificate?.raw !== undefined && !seen.has(current.issuerCertificate.fingerprint256) && chain.length < 8) {
    current = current.issuerCertificate;
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
  }
  return chain;
}

/**
 * The `Cert` of an XFCC header (Envoy: the URL-encoded PEM of the client's certificate),
 * then the certificates after the first of its `Chain` (Envoy's
 * `set_current_client_cert_details: { chain: true }`: the URL-encoded PEM of the client's
 * chain, its certificate first), if there is one.
 * Exactly one element: an edge proxy that appends to an XFCC header the client sent
 * (`forward_client_cert_details: APPEND_FORWARD`) would let the client put a certificate
 * of its choosing in front; the edge must sanitise (`SANITIZE_SET`).
 */
export function certificatesFromXfcc(value: string): X509Certificate[] {
  if (value.length > MAX_HEADER_LENGTH) throw new MalformedCertificateHeader('x-forwarded-client-cert is too long');
  const elements = splitOutsideQuotes(value, ',');
  if (elements.length !== 1) {
    throw new MalformedCertificateHeader(
      `x-forwarded-client-cert has ${elements.length} elements, expected 1 (the edge proxy must set it, not append to it)`,
    );
  }
  let cert: string | undefined;
  let chain: string | undefined;
  for (const pair of splitOutsideQuotes(elements[0] ?? '', ';')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new MalformedCertificateHeader('x-forwarded-client-cert has a field without "key="');
    const key = pair.slice(0, equals).trim().toLowerCase();
    if (key === 'chain') {
      if (chain !== undefined) throw new MalformedCertificateHeader('x-forwarded-client-cert has Chain twice');
      chain = unquote(pair.slice(equals + 1).trim());
    }
    if (key !== 'cert') continue;
    if (cert !== undefined) throw new MalformedCertificateHeader('x-forwarded-client-cert has Cert twice');
    cert = unquote(pair.slice(equals + 1).trim());
  }
  if (cert === undefined)
    throw new MalformedCertificateHeader('x-forwarded-client-cert has no Cert field (Envoy: set_current_client_cert_details cert: true)');
  const certificate = certificateFromEscapedPem(cert);
  return [certificate, ...(chain === undefined ? [] : certificatesFromEscapedPem(chain).slice(1))];
}

/**
 * A URL-encoded PEM certificate (nginx `$ssl_client_escaped_cert`, Envoy's `Cert`), or the
 * same without its BEGIN/END lines (Traefik), or base64 DER (HAProxy `%[ssl_c_der,base64]`).
 * The first certificate when there are several (a chain after the leaf).
 */
export function certificateFromEscapedPem(value: string): X509Certificate {
  return certificatesFromEscapedPem(value)[0] as X509Certificate;
}

/** As certificateFromEscapedPem, with the PEM blocks after the first (a chain after the leaf) too. */
export function certificatesFromEscapedPem(value: string): X509Certificate[] {
  if (value.length > MAX_HEADER_LENGTH) throw new MalformedCertificateHeader('the certificate header is too long');
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    throw new MalformedCertificateHeader('the certificate header has an invalid percent-escape');
  }
  const pems = [...decoded.matchAll(/-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g)].map((match) => match[1] ?? '');
  const bodies = (pems.length === 0 ? [decoded.split(',')[0] ?? ''] : pems).map((body) => body.replace(/\s+/g, ''));
  return bodies.map((body) => {
    if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body))
      throw new MalformedCertificateHeader('the certificate header holds no PEM or base64 certificate');
    try {
      return new X509Certificate(Buffer.from(body, 'base64'));
    } catch {
      throw new MalformedCertificateHeader('the certificate header holds no parseable X.509 certificate');
    }
  });
}

/** `value` cut at each `separator` outside double quotes (a `\` escapes the next character inside them). */
function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i] as string;
    if (quoted && char === '\\') {
      current += char + (value[i + 1] ?? '');
      i++;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (!quoted && char === separator) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  if (quoted) throw new MalformedCertificateHeader('x-forwarded-client-cert has an unterminated quote');
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}
