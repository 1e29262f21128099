/**
 * TLS at Portier itself, and the client certificate a proxy passes on: the entries of
 * config/variables.ts's table for them (see docs/mtls.md).
 */
import { parseTrustBundles, readTrustBundles, type TrustBundleFile } from '../tls/spiffe.js';
import { readTlsMaterial, TlsFileError, type TlsFiles } from '../tls/termination.js';
import { issuerUrl, trustProxy } from './formats.js';
import { BadValue, ConfigError, combined, custom, nonEmpty, unset } from './kinds.js';

/** Portier terminating TLS itself (tls/termination.ts); undefined: plain HTTP (TLS ends at a proxy, if any). */
export const TLS = combined({
  variables: [
    {
      name: 'TLS_CERT_FILE',
      doc: 'with `TLS_KEY_FILE`: listen with HTTPS on `PORT`, with this certificate chain; read again on SIGHUP or when it changes, without dropping connections (see [Mutual TLS](mtls.md))',
      values: 'a PEM file',
      default: unset('plain HTTP'),
    },
    { name: 'TLS_KEY_FILE', doc: "the certificate's private key (only with `TLS_CERT_FILE`)", values: 'a PEM file', default: unset() },
    {
      name: 'TLS_CLIENT_CA_FILE',
      doc: 'the CAs whose client certificates are verified (only with `TLS_CERT_FILE`): clients are asked for a certificate, and not required to send one (see [Mutual TLS](mtls.md))',
      values: 'a PEM file',
      default: unset('no client certificates asked for'),
    },
  ],
  read: (env): TlsFiles | undefined => {
    const certFile = nonEmpty(env.TLS_CERT_FILE);
    const keyFile = nonEmpty(env.TLS_KEY_FILE);
    const clientCaFile = nonEmpty(env.TLS_CLIENT_CA_FILE);
    if (certFile === undefined) {
      if (keyFile !== undefined) throw new ConfigError('TLS_KEY_FILE', 'is set, but TLS_CERT_FILE is not');
      if (clientCaFile !== undefined) throw new ConfigError('TLS_CLIENT_CA_FILE', 'is set, but TLS_CERT_FILE is not');
      return undefined;
    }
    if (keyFile === undefined) throw new ConfigError('TLS_KEY_FILE', 'must be set when TLS_CERT_FILE is');
    const files = { certFile, keyFile, clientCaFile };
    try {
      readTlsMaterial(files);
    } catch (error) {
      if (error instanceof TlsFileError) throw new ConfigError(error.variable, error.message);
      throw error;
    }
    return files;
  },
});

/** The header in which a proxy that terminates TLS passes on the client's certificate. */
export const CLIENT_CERT_HEADER = custom({
  name: 'CLIENT_CERT_HEADER',
  doc: "the header in which a proxy that terminates TLS passes on the client's verified certificate: `x-forwarded-client-cert` (Envoy's XFCC) or one with the URL-encoded PEM (nginx `$ssl_client_escaped_cert`); read only from the addresses `TRUST_PROXY` lists (see [Mutual TLS](mtls.md#behind-a-proxy))",
  values: 'a header name',
  default: unset('no certificate from a proxy'),
  parse: (value, env): string => {
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)) throw new BadValue(`must be a header name, got "${value}"`);
    const trust = nonEmpty(env.TRUST_PROXY);
    const proxies = trust === undefined ? false : trustProxy(trust);
    if (proxies === false) {
      throw new BadValue('is set, but TRUST_PROXY is false: the header is read only from the proxies TRUST_PROXY names');
    }
    // With `true` or a hop count every address counts as a proxy: anyone reaching Portier
    // directly could then send a certificate of their choosing in the header.
    if (!Array.isArray(proxies)) {
      throw new BadValue(`needs TRUST_PROXY to list the proxies' addresses, not ${trust}: otherwise any caller could send the header`);
    }
    return value.toLowerCase();
  },
});

/** A CA bundle per SPIFFE trust domain (tls/spiffe.ts): each vouches only for its own domain's X.509-SVIDs. */
export const SPIFFE_TRUST_BUNDLES = custom({
  name: 'SPIFFE_TRUST_BUNDLES',
  doc: "a CA bundle per SPIFFE trust domain: a client certificate whose URI SAN is `spiffe://<trust domain>/…` must chain to its own domain's bundle, and the bundle's CAs vouch for nothing else; asked for in the TLS handshake beside `TLS_CLIENT_CA_FILE`'s; read again on SIGHUP or when one changes (see [Mutual TLS](mtls.md#spiffe-trust-bundles))",
  values: 'comma-separated `<trust domain>=<PEM file>`',
  default: unset('SPIFFE IDs are checked as any certificate'),
  parse: (value, env): TrustBundleFile[] => {
    if (nonEmpty(env.TLS_CERT_FILE) === undefined && nonEmpty(env.CLIENT_CERT_HEADER) === undefined) {
      throw new BadValue('is set, but neither TLS_CERT_FILE nor CLIENT_CERT_HEADER is: no client certificate would reach Portier');
    }
    let files: TrustBundleFile[];
    try {
      files = parseTrustBundles(value);
    } catch (error) {
      throw new BadValue(error instanceof Error ? error.message : String(error));
    }
    try {
      readTrustBundles(files);
    } catch (error) {
      if (error instanceof TlsFileError) throw new BadValue(error.message);
      throw error;
    }
    return files;
  },
});

/** Where certificate clients reach Portier when that is another host than ISSUER's (RFC 8705 §5). */
export const MTLS_BASE_URL = custom({
  name: 'MTLS_BASE_URL',
  doc: 'the base URL of a host name for certificate clients (RFC 8705 §5), such as one where the proxy asks for a client certificate; discovery then lists `mtls_endpoint_aliases` under it (see [Mutual TLS](mtls.md#discovery))',
  values: 'an `https://` URL',
  default: unset('no aliases'),
  parse: (value): string => {
    const url = issuerUrl(value);
    if (!url.startsWith('https://')) throw new BadValue('must be an https:// URL');
    return url;
  },
});
