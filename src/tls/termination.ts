import { X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';

/**
 * Portier terminating TLS itself (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE): the
 * files read and checked, the options of the HTTPS server, and their reload (SIGHUP, or a
 * change of the files) without dropping a connection. No HTTP in here but the server's
 * options; what a request's certificate is, is client-certificate.ts.
 */

/** Where the server's certificate, its key and the CAs of client certificates are. */
export interface TlsFiles {
  /** TLS_CERT_FILE: the server's certificate chain (PEM). */
  certFile: string;
  /** TLS_KEY_FILE: its private key (PEM). */
  keyFile: string;
  /** TLS_CLIENT_CA_FILE: the CAs whose client certificates are verified (PEM bundle); undefined: no client certificates are asked for. */
  clientCaFile: string | undefined;
}

/** What the files hold. Kept out of Config (and so out of anything that prints it): the key is read where it is used. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string | undefined;
}

/** A file that cannot be used: `variable` names the setting, `file` the path, `problem` what is wrong (never the file's content). */
export class TlsFileError extends Error {
  constructor(
    readonly variable: string,
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'TlsFileError';
  }
}

function readPem(variable: string, file: string, marker: RegExp, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new TlsFileError(variable, file, `cannot read it (${reason})`);
  }
  if (!marker.test(text)) throw new TlsFileError(variable, file, `contains no PEM ${what}`);
  return text;
}

/**
 * Reads the three files and checks that they make a TLS context (the key fits the
 * certificate, the CAs parse). Throws TlsFileError naming the file at fault.
 */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const cert = readPem('TLS_CERT_FILE', files.certFile, /-----BEGIN CERTIFICATE-----/, 'certificate (-----BEGIN CERTIFICATE-----)');
  const key = readPem(
    'TLS_KEY_FILE',
    files.keyFile,
    /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/,
    'private key (-----BEGIN PRIVATE KEY-----)',
  );
  const ca =
    files.clientCaFile === undefined
      ? undefined
      : readPem('TLS_CLIENT_CA_FILE', files.clientCaFile, /-----BEGIN CERTIFICATE-----/, 'certificate (-----BEGIN CERTIFICATE-----)');
  try {
    createSecureContext({ cert });
  } catch (error) {
    throw new TlsFileError('TLS_CERT_FILE', files.certFile, `not a usable certificate (${tlsReason(error)})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsFileError('TLS_KEY_FILE', files.keyFile, `not a usable key for ${files.certFile} (${tlsReason(error)})`);
  }
  if (ca !== undefined && files.clientCaFile !== undefined) {
    try {
      createSecureContext({ ca });
    } catch (error) {
      throw new TlsFileError('TLS_CLIENT_CA_FILE', files.clientCaFile, `not a usable CA bundle (${tlsReason(error)})`);
    }
  }
  return { cert, key, ca };
}

/** OpenSSL's reason, without anything of the files. */
function tlsReason(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}

/**
 * The TLS part of the HTTPS server's options: the certificate, and client certificates asked
 * for (never required), chaining to TLS_CLIENT_CA_FILE or one of the SPIFFE trust bundles
 * (`bundlePems`); which CA may vouch for which certificate is checked per request
 * (tls/spiffe.ts).
 */
export function secureContextOptions(
  material: TlsMaterial,
  bundlePems: readonly string[] = [],
): Pick<HttpsServerOptions, 'cert' | 'key' | 'ca' | 'requestCert' | 'rejectUnauthorized'> {
  const cas = [...(material.ca === undefined ? [] : [material.ca]), ...bundlePems];
  return {
    cert: material.cert,
    key: material.key,
    ...(cas.length > 0 && { ca: cas }),
    // Asked for, not required: clients with a secret and browsers keep working. Whether a
    // certificate chains to the CAs is the socket's `authorized`, read per request; a
    // self-signed one (self_signed_tls_client_auth) gets through the handshake too.
    requestCert: cas.length > 0,
    rejectUnauthorized: false,
  };
}

/**
 * The HTTPS server's options. A handshake must finish within REQUEST_TIMEOUT, as a request's
 * head must (Node's default, 120 s, would let a stalled handshake hold a connection slot for
 * two minutes); until then the connection counts towards the caps like any other.
 */
export function httpsServerOptions(material: TlsMaterial, bundlePems: readonly string[], requestTimeoutMs: number): HttpsServerOptions {
  return { ...secureContextOptions(material, bundlePems), handshakeTimeout: requestTimeoutMs };
}

/**
 * Files reloaded beside the TLS files, checked and put in place with them (SPIFFE trust
 * bundles, tls/spiffe.ts's TrustBundles): `read` throws TlsFileError and changes nothing;
 * `use` puts what it read in place, with TLS_CLIENT_CA_FILE's text as now read.
 */
export interface ReloadedAnchors<T> {
  readonly paths: readonly string[];
  read(): T;
  pems(read: T): string[];
  use(read: T, clientCaPem: string | undefined): void;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM text, in order; throws (an Error of node:crypto) for one that does not parse. */
export function pemCertificates(text: string): X509Certificate[] {
  return (text.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block));
}

/**
 * The client CAs of an HTTPS server since its last reload: `generation` counts the reloads,
 * `cas` are TLS_CLIENT_CA_FILE's certificates as now read. A connection keeps the context of
 * its handshake, so its `authorized` was decided by the CAs of the generation it was stamped
 * with; tls/client-certificate.ts checks an older connection's chain again against these.
 */
export interface ClientCaEpoch {
  readonly generation: number;
  readonly cas: readonly X509Certificate[] | undefined;
}

/** Per HTTPS server, once a TlsReloader watches it; none: no reload has happened (generation 0). */
const epochs = new WeakMap<object, ClientCaEpoch>();
/** Per TLS connection: the generation of the context its handshake used (0 when none was stamped). */
const handshakeGenerations = new WeakMap<object, number>();

/** The client CAs of the server a connection came to; undefined: never reloaded. */
export function clientCaEpoch(server: object | undefined): ClientCaEpoch | undefined {
  return server === undefined ? undefined : epochs.get(server);
}

/** The generation of the client CAs a connection's handshake was verified against. */
export function handshakeGeneration(socket: object): number {
  return handshakeGenerations.get(socket) ?? 0;
}

/** TLS_CLIENT_CA_FILE's certificates, for the chains of connections older than a reload; throws TlsFileError. */
function clientCas(pem: string, file: string): X509Certificate[] {
  try {
    return pemCertificates(pem);
  } catch {
    throw new TlsFileError('TLS_CLIENT_CA_FILE', file, 'holds a certificate that does not parse');
  }
}

/** What a reload reports: to the log, by the caller. */
export type ReloadOutcome = { reloaded: true } | { reloaded: false; error: TlsFileError };

/**
 * Reads the files again and puts them in place for the connections that come next
 * (`setSecureContext`): the connections open now keep theirs, and none is dropped. Files
 * that cannot be used leave the ones in use in place.
 */
export class TlsReloader<T = unknown> {
  private watched: string[] = [];

  /** `server` and `files` undefined: TLS ends at a proxy, and only the anchors are reloaded. */
  constructor(
    private readonly server: HttpsServer | undefined,
    private readonly files: TlsFiles | undefined,
    private readonly anchors: ReloadedAnchors<T> | undefined,
    private readonly onReload: (outcome: ReloadOutcome) => void,
  ) {
    // Each connection stamped with the generation its handshake was verified in: one WeakMap
    // entry per connection, next to a handshake's cost nothing.
    server?.on('secureConnection', (socket: object) => {
      const epoch = epochs.get(server);
      if (epoch !== undefined) handshakeGenerations.set(socket, epoch.generation);
    });
  }

  reload(): ReloadOutcome {
    let outcome: ReloadOutcome;
    try {
      // Everything read and checked before anything is put in place: all or nothing.
      const anchors = this.anchors?.read();
      const material = this.files === undefined ? undefined : readTlsMaterial(this.files);
      const pems = anchors === undefined || this.anchors === undefined ? [] : this.anchors.pems(anchors);
      const cas = material?.ca === undefined ? undefined : clientCas(material.ca, this.files?.clientCaFile ?? '');
      if (material !== undefined && this.server !== undefined) {
        this.server.setSecureContext(secureContextOptions(material, pems));
        const generation = (epochs.get(this.server)?.generation ?? 0) + 1;
        epochs.set(this.server, { generation, cas });
      }
      if (anchors !== undefined) this.anchors?.use(anchors, material?.ca);
      outcome = { reloaded: true };
    } catch (error) {
      if (!(error instanceof TlsFileError)) throw error;
      outcome = { reloaded: false, error };
    }
    this.onReload(outcome);
    return outcome;
  }

  /**
   * Reloads when one of the files changes. Polled (stat every `intervalMs`) rather than
   * fs.watch: cert-manager and Kubernetes replace a mounted secret by swapping a symbolic
   * link, which an inotify watch on the old file never sees; stat follows the link.
   */
  watch(intervalMs: number): void {
    const tls = this.files;
    const files = [
      ...(tls === undefined ? [] : [tls.certFile, tls.keyFile, ...(tls.clientCaFile === undefined ? [] : [tls.clientCaFile])]),
      ...(this.anchors?.paths ?? []),
    ];
    for (const file of files) {
      watchFile(file, { interval: intervalMs, persistent: false }, (current, previous) => {
        if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) this.reload();
      });
    }
    this.watched = files;
  }

  close(): void {
    for (const file of this.watched) unwatchFile(file);
    this.watched = [];
  }
}
