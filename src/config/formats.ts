/**
 * The formats of single values that the configuration table (config/variables.ts) reads
 * with `custom`: each takes the trimmed value and returns it parsed, or throws BadValue with
 * the problem. Rules between two variables are not here but in the table's entry.
 * A message never repeats a secret, a key or a password.
 */
import { readFileSync } from 'node:fs';
import { normalizeCidr } from '../lib/networks.js';
import { CLIENT_ID_PATTERN } from '../schemas/limits.js';
import { BadValue } from './kinds.js';

/** What node-postgres makes of `sslmode` in the URL (see docs/operations.md, "TLS"). */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;

/** A `postgres://` or `postgresql://` URL, with an `sslmode` node-postgres knows if any. */
export function postgresUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadValue('is not a valid URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new BadValue(`must start with postgres:// or postgresql://, got "${url.protocol}//"`);
  }
  const sslmode = url.searchParams.get('sslmode');
  // node-postgres takes a value it does not know for verify-full: refuse it rather than
  // guess what was meant.
  if (sslmode !== null && !SSL_MODES.some((mode) => mode === sslmode)) {
    throw new BadValue(`sslmode must be one of ${SSL_MODES.join(', ')}, got "${sslmode}"`);
  }
  return value;
}

/** An issuer identifier (RFC 8414 §2): an http(s) URL without query or fragment, returned without trailing slashes. */
export function issuerUrl(value: string): string {
  // The URL parser silently drops tabs and newlines, but the raw value is what goes into tokens.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (/[\s\x00-\x1f\x7f]/.test(value)) throw new BadValue('must not contain whitespace or control characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadValue(`is not a valid URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new BadValue('must be an http:// or https:// URL');
  // An empty `?` or `#` leaves url.search/url.hash empty, hence the look at the raw value.
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(value)) throw new BadValue('must not contain a query or fragment');
  return value.replace(/\/+$/, '');
}

/** A 32-byte AES-256 key in base64 or base64url. */
export function aes256Key(value: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) throw new BadValue('must be base64');
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new BadValue(`must decode to exactly 32 bytes, got ${key.length}`);
  return key;
}

/** A file of PEM CA certificates: its name, and what it holds. */
export interface PemFile {
  file: string;
  pem: string;
}

/** The named file, which must be readable and hold at least one PEM certificate. */
export function pemFile(file: string): PemFile {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new BadValue(`cannot read ${file} (${reason})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new BadValue(`${file} contains no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return { file, pem };
}

/** Fastify's `trustProxy`: false, true, a hop count, or a comma-separated list of addresses and CIDRs. */
export function trustProxy(value: string): boolean | number | string[] {
  if (value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    // normalizeCidr, like the client IP ranges: refuses octal/hex/short IPv4 forms such as
    // `010.0.0.1`, which ipaddr.js (and so Fastify) would read as 8.0.0.1.
    if (normalizeCidr(entry) === undefined) {
      throw new BadValue(`expected false, true, a hop count or a list of IPs/CIDRs; "${entry}" is none`);
    }
  }
  return entries;
}

/** A client_id as the admin API accepts it. */
export function clientId(value: string): string {
  if (!CLIENT_ID_PATTERN.test(value)) {
    throw new BadValue(`must be 3–64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A client secret chosen by hand: 16–512 printable ASCII characters. */
export function clientSecret(value: string): string {
  if (value.length < 16) throw new BadValue('must be at least 16 characters');
  if (value.length > 512) throw new BadValue('must be at most 512 characters');
  if (!/^[\x20-\x7e]+$/.test(value)) throw new BadValue('must consist of printable ASCII characters');
  return value;
}
