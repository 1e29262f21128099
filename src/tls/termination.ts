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
  ) {}

  reload(): ReloadOutcome {
    let outcome: ReloadOutcome;
    try {
      // Everything read and checked before anything is put in place: all or nothing.
      const anchors = this.anchors?.read();
      const material = this.files === undefined ? undefined : readTlsMaterial(this.files);
      const pems = anchors === undefined || this.anchors === undefined ? [] : this.anchors.pems(anchors);
      if (material !== undefined) this.server?.setSecureContext(secureContextOptions(material, pems));
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
