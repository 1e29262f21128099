import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CertificateFormatError, certificateNames } from '../lib/x509.js';
import { pemCertificates, type ReloadedAnchors, TlsFileError } from './termination.js';

/**
 * SPIFFE trust bundles (SPIFFE_TRUST_BUNDLES): a bundle of CA certificates per trust domain,
 * and the checks of an X.509-SVID against its own domain's bundle, so that a CA of domain A
 * cannot vouch for spiffe://B/…. The chain is built and checked here with node:crypto
 * (OpenSSL, in the handshake, accepts a chain to any CA it was given).
 */

/** One entry of SPIFFE_TRUST_BUNDLES: `<trust domain>=<path to PEM bundle>`. */
export interface TrustBundleFile {
  trustDomain: string;
  file: string;
}

/** The CA certificates of each trust domain, as read from the files. */
export type TrustBundleSet = ReadonlyMap<string, { pem: string; cas: readonly X509Certificate[] }>;

/** SPIFFE ID spec §2.1: a trust domain is lower-case letters, digits, dots, dashes and underscores. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** SPIFFE ID spec §2.2: path segments of letters, digits, dots, dashes and underscores, none empty, `.` or `..`. */
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)*)$/;
/** SPIFFE ID spec §2.3: at most 2048 bytes. */
const MAX_SPIFFE_ID_LENGTH = 2048;
/** The longest chain built (leaf, intermediates, anchor). */
const MAX_CHAIN_DEPTH = 8;

/** Reads the setting's value; throws an Error whose message is the problem. */
export function parseTrustBundles(value: string): TrustBundleFile[] {
  const entries: TrustBundleFile[] = [];
  for (const part of value.split(',').map((entry) => entry.trim())) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals <= 0 || equals === part.length - 1) throw new Error(`"${part}" is not <trust domain>=<path to PEM bundle>`);
    const trustDomain = part.slice(0, equals).trim();
    const file = part.slice(equals + 1).trim();
    if (!TRUST_DOMAIN.test(trustDomain)) {
      throw new Error(`"${trustDomain}" is not a SPIFFE trust domain (lower-case letters, digits, ".", "-" and "_"; no spiffe://)`);
    }
    if (entries.some((entry) => entry.trustDomain === trustDomain)) throw new Error(`trust domain ${trustDomain} is given twice`);
    entries.push({ trustDomain, file });
  }
  if (entries.length === 0) throw new Error('names no trust domain');
  return entries;
}

/** The certificates of a PEM text, in order; throws CertificateFormatError for one that does not parse. */
function bundleCertificates(text: string): X509Certificate[] {
  try {
    return pemCertificates(text);
  } catch {
    throw new CertificateFormatError('a certificate that does not parse');
  }
}

/** Reads the bundles; throws TlsFileError (variable SPIFFE_TRUST_BUNDLES) naming the file at fault. */
export function readTrustBundles(files: readonly TrustBundleFile[]): TrustBundleSet {
  const set = new Map<string, { pem: string; cas: X509Certificate[] }>();
  for (const { trustDomain, file } of files) {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new TlsFileError('SPIFFE_TRUST_BUNDLES', file, `cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    let cas: X509Certificate[];
    try {
      cas = bundleCertificates(pem);
    } catch {
      throw new TlsFileError('SPIFFE_TRUST_BUNDLES', file, `holds ${trustDomain}'s bundle with a certificate that does not parse`);
    }
    if (cas.length === 0) throw new TlsFileError('SPIFFE_TRUST_BUNDLES', file, 'contains no PEM certificate (-----BEGIN CERTIFICATE-----)');
    const notCa = cas.find((ca) => !ca.ca);
    if (notCa !== undefined)
      throw new TlsFileError('SPIFFE_TRUST_BUNDLES', file, `holds a certificate that is not a CA (${notCa.subject})`);
    set.set(trustDomain, { pem, cas });
  }
  return set;
}

/** The anchors in use: read at start, replaced by a reload (tls/termination.ts's TlsReloader). */
export class TrustBundles implements ReloadedAnchors<TrustBundleSet> {
  private set: TrustBundleSet;
  private cas: readonly X509Certificate[] | undefined;

  /** `clientCaPem`: TLS_CLIENT_CA_FILE's text, when Portier terminates TLS with one. */
  constructor(
    readonly files: readonly TrustBundleFile[],
    clientCaPem: string | undefined,
  ) {
    this.set = readTrustBundles(files);
    this.cas = clientCaPem === undefined ? undefined : pemCertificates(clientCaPem);
  }

  get paths(): string[] {
    return this.files.map((entry) => entry.file);
  }

  get bundles(): TrustBundleSet {
    return this.set;
  }

  /** TLS_CLIENT_CA_FILE's CAs (TLS with Portier); undefined without. */
  get clientCas(): readonly X509Certificate[] | undefined {
    return this.cas;
  }

  /** Reads the files again, without putting them in place (see use). */
  read(): TrustBundleSet {
    return readTrustBundles(this.files);
  }

  pems(set: TrustBundleSet): string[] {
    return [...set.values()].map((bundle) => bundle.pem);
  }

  use(set: TrustBundleSet, clientCaPem: string | undefined): void {
    this.set = set;
    this.cas = clientCaPem === undefined ? undefined : pemCertificates(clientCaPem);
  }
}

/** What a certificate is to SPIFFE: not an SVID (no spiffe URI SAN), an SVID of a trust domain, or a malformed one. */
export type SpiffeReading = { svid: false } | { svid: true; id: string; trustDomain: string } | { svid: 'malformed'; problem: string };

/**
 * Reads a certificate's SPIFFE ID (X509-SVID spec §2, §4.1): a certificate with a URI SAN
 * of the spiffe scheme must have exactly one URI SAN, a well-formed SPIFFE ID with a path,
 * and not be a CA.
 */
export function readSpiffeId(certificate: X509Certificate): SpiffeReading {
  let uris: string[];
  try {
    uris = certificateNames(certificate).sans.uri;
  } catch (error) {
    if (error instanceof CertificateFormatError) return { svid: 'malformed', problem: 'its names cannot be read' };
    throw error;
  }
  if (!uris.some((uri) => uri.toLowerCase().startsWith('spiffe:'))) return { svid: false };
  if (uris.length !== 1) return { svid: 'malformed', problem: `an X.509-SVID has exactly one URI SAN, this one ${uris.length}` };
  const id = uris[0] as string;
  const match = SPIFFE_ID.exec(id);
  if (match === null || id.length > MAX_SPIFFE_ID_LENGTH || /\/\.\.?(?:\/|$)/.test(id.slice('spiffe://'.length))) {
    return { svid: 'malformed', problem: `${JSON.stringify(id.slice(0, 200))} is not a well-formed SPIFFE ID` };
  }
  if (match[2] === '') return { svid: 'malformed', problem: `${id} has no path: an X.509-SVID of a workload names one` };
  if (certificate.ca) return { svid: 'malformed', problem: 'an X.509-SVID of a workload must not be a CA certificate' };
  return { svid: true, id, trustDomain: match[1] as string };
}

function validAt(certificate: X509Certificate, now: number): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/**
 * Whether `leaf` chains to one of `anchors`, through `intermediates` (what the client sent
 * after its certificate, untrusted but for their signatures), every certificate on the way
 * valid at `now` and every issuer a CA. Undefined when it does; otherwise why not.
 */
export function chainProblem(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: number,
): string | undefined {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (!validAt(current, now)) return `${current === leaf ? 'the certificate' : `CA ${current.subject}`} is not valid now`;
    const anchor = anchors.find((ca) => issued(ca, current));
    if (anchor !== undefined) return validAt(anchor, now) ? undefined : `the bundle's CA ${anchor.subject} is not valid now`;
    const next = intermediates.find((ca) => ca.ca && ca !== current && issued(ca, current));
    if (next === undefined) return 'it is not signed by a CA of the bundle';
    current = next;
  }
  return 'the chain is too long';
}

/**
 * Checks an X.509-SVID against its trust domain's bundle. Undefined when the domain has no
 * bundle (the caller falls back on TLS_CLIENT_CA_FILE or the proxy), otherwise `{ problem }`,
 * undefined when it chains to that bundle.
 */
export function svidBundleCheck(
  svid: { id: string; trustDomain: string },
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  bundles: TrustBundleSet,
  now: number,
): { problem: string | undefined } | undefined {
  const bundle = bundles.get(svid.trustDomain);
  if (bundle === undefined) return undefined;
  const problem = chainProblem(leaf, intermediates, bundle.cas, now);
  return { problem: problem === undefined ? undefined : `the SVID ${svid.id} does not chain to ${svid.trustDomain}'s bundle: ${problem}` };
}

/** What the chain rule needs of a presented certificate (tls/client-certificate.ts's PresentedCertificate). */
export interface ChainEvidence {
  certificate: X509Certificate;
  intermediates: readonly X509Certificate[];
  chainVerified: boolean;
  chainError: string | undefined;
  source: 'tls' | 'header';
}

/**
 * A verdict of certificateChainProblem, remembered per presented certificate (one object per
 * TLS connection, or per distinct proxy header: tls/client-certificate.ts) while the anchors
 * it was reached with are the ones in use (a reload replaces them, and so the verdict), and
 * only for the span of time in which every certificate it could have looked at is valid:
 * within it, nothing the check reads changes.
 */
interface ChainVerdict {
  bundles: TrustBundleSet;
  clientCas: readonly X509Certificate[] | undefined;
  from: number;
  until: number;
  problem: string | undefined;
}

const verdicts = new WeakMap<ChainEvidence, ChainVerdict>();

/** The span of time in which all of `certificates` are valid (empty when from > until). */
function commonValidity(certificates: Iterable<X509Certificate>): { from: number; until: number } {
  let from = Number.NEGATIVE_INFINITY;
  let until = Number.POSITIVE_INFINITY;
  for (const certificate of certificates) {
    from = Math.max(from, Date.parse(certificate.validFrom));
    until = Math.min(until, Date.parse(certificate.validTo));
  }
  return { from, until };
}

/**
 * Why a tls_client_auth certificate is not vouched for, or undefined when it is. Without
 * bundles: it chains to TLS_CLIENT_CA_FILE (the handshake's verdict) or came from the
 * trusted proxy. With bundles: an SVID of a domain with a bundle must chain to that bundle
 * (from the handshake or the proxy's header alike); any other certificate must, over TLS
 * with Portier, chain to TLS_CLIENT_CA_FILE itself (the handshake accepts the bundles' CAs
 * too, and they vouch only for their own domain's SVIDs), or come from the trusted proxy.
 * The signatures are checked once per presented certificate (see ChainVerdict).
 */
export function certificateChainProblem(presented: ChainEvidence, trust: TrustBundles | undefined, now: number): string | undefined {
  if (trust === undefined) return presented.chainVerified ? undefined : notToClientCa(presented.chainError ?? 'not verified');
  const { bundles, clientCas } = trust;
  const cached = verdicts.get(presented);
  if (cached?.bundles === bundles && cached.clientCas === clientCas && cached.from <= now && now <= cached.until) return cached.problem;
  const problem = bundleChainProblem(presented, bundles, clientCas, now);
  const anchors = [...bundles.values()].flatMap((bundle) => bundle.cas);
  const { from, until } = commonValidity([presented.certificate, ...presented.intermediates, ...anchors, ...(clientCas ?? [])]);
  if (from <= now && now <= until) verdicts.set(presented, { bundles, clientCas, from, until, problem });
  return problem;
}

function notToClientCa(reason: string): string {
  return `the client certificate does not chain to TLS_CLIENT_CA_FILE (${reason})`;
}

function bundleChainProblem(
  presented: ChainEvidence,
  bundles: TrustBundleSet,
  clientCas: readonly X509Certificate[] | undefined,
  now: number,
): string | undefined {
  const spiffe = readSpiffeId(presented.certificate);
  if (spiffe.svid === 'malformed') return `not a valid X.509-SVID: ${spiffe.problem}`;
  if (spiffe.svid) {
    const checked = svidBundleCheck(spiffe, presented.certificate, presented.intermediates, bundles, now);
    if (checked !== undefined) return checked.problem;
  }
  if (presented.source === 'header') return undefined;
  if (!presented.chainVerified) return notToClientCa(presented.chainError ?? 'not verified');
  if (clientCas === undefined) return notToClientCa('unset; the SPIFFE bundles vouch only for their own trust domain');
  const problem = chainProblem(presented.certificate, presented.intermediates, clientCas, now);
  return problem === undefined ? undefined : notToClientCa(problem);
}
