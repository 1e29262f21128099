import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { normalizeCidr } from './lib/networks.js';
import { HOOK_FAILURE_MODES, QUOTA_MODES, type QuotaMode } from './schemas/enums.js';
import { CLIENT_ID_PATTERN, MAX_QUOTA, MAX_TOKEN_TTL, MIN_TOKEN_TTL } from './schemas/limits.js';

/**
 * Portier's whole configuration, read once from the environment at start-up.
 * Every variable is documented in the README's configuration table; the names and
 * defaults are part of the public contract.
 */
export interface Config {
  /** `postgres://…`; undefined means the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  /** Connections each instance keeps to PostgreSQL at most. */
  databasePoolSize: number;
  /** Milliseconds to open a database connection, or to wait for a free one. */
  databaseConnectTimeout: number;
  /** Milliseconds a database query may take before it fails; 0: no limit. */
  databaseStatementTimeout: number;
  /** DATABASE_CA_FILE and its PEM contents: the CA that signed the database's TLS certificate. */
  databaseCa: { file: string; pem: string } | undefined;
  dataDir: string;
  port: number;
  host: string;
  /** The `iss` of every token, without a trailing slash. */
  issuer: string;
  /** Access token lifetime in seconds. */
  accessTokenTtl: number;
  signingAlg: SigningAlg;
  /** 32-byte AES-256-GCM key for private signing keys at rest, or undefined (stored unencrypted). */
  keyEncryptionKey: Buffer | undefined;
  /**
   * The key-encryption key before the last change (KEY_ENCRYPTION_KEY_PREVIOUS): read only,
   * so that keys sealed under it can be opened and re-sealed under keyEncryptionKey.
   */
  keyEncryptionKeyPrevious: Buffer | undefined;
  /** KEY_ROTATION_DAYS: rotate the signing key automatically once it has signed this long; undefined: off. */
  keyRotationDays: number | undefined;
  /** Passed to Fastify's `trustProxy`: false, true, a hop count, or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  bootstrapAdmin: { clientId: string; clientSecret: string } | undefined;
  logLevel: LogLevel;
  protection: ProtectionConfig;
  /** How a private_key_jwt client's jwks_uri is fetched (see oauth/client-auth/remote-jwks.ts). */
  jwksUri: JwksUriConfig;
  /** DPOP_NONCE: the token endpoint requires a server-issued nonce in DPoP proofs (RFC 9449 §8). */
  dpopNonce: boolean;
  /** TOKEN_HOOK_*: the issuance hook called before each token is signed (policy/hook.ts); undefined: none. */
  tokenHook: TokenHookConfig | undefined;
  /** TOKEN_QUOTA_*: the quota of clients without a token_quota of their own (policy/quota.ts). */
  tokenQuota: TokenQuotaDefaults;
}

/** The issuance hook (see the README's "Token policy"). */
export interface TokenHookConfig {
  /** TOKEN_HOOK_URL: https, or http to a loopback address. */
  url: string;
  /** TOKEN_HOOK_SECRET: the HMAC-SHA256 key of the Portier-Signature header. */
  secret: string;
  /** TOKEN_HOOK_TIMEOUT: milliseconds the whole call may take. */
  timeoutMs: number;
  /** TOKEN_HOOK_ON_FAILURE: what a failed call means for the token. */
  onFailure: (typeof HOOK_FAILURE_MODES)[number];
}

/** The default token quota: undefined limits mean none. */
export interface TokenQuotaDefaults {
  perHour: number | undefined;
  perDay: number | undefined;
  mode: QuotaMode;
}

/** Outgoing fetches of client key sets: an admin chooses the URL, so they are fenced in. */
export interface JwksUriConfig {
  /** JWKS_URI_ALLOW_PRIVATE: may a jwks_uri resolve to a loopback, private or other non-public address? */
  allowPrivate: boolean;
  /** JWKS_URI_CA_FILE: extra CA certificate(s) trusted for jwks_uri, besides Node's. */
  ca: { file: string; pem: string } | undefined;
  /** JWKS_URI_TIMEOUT: milliseconds a whole fetch (connect, TLS, answer) may take. */
  timeoutMs: number;
}

/** Limits that keep the server up under attack: see protection/ and the README's "Abuse resistance". */
export interface ProtectionConfig {
  /** Failed client authentications allowed per (client_id, source address) per window. */
  failuresPerClientAndAddress: number;
  /** Failed client authentications allowed per source address per window. */
  failuresPerAddress: number;
  /** Of those, how many a source address may have at once. */
  failureBurstPerAddress: number;
  failureWindowMs: number;
  /** How long a throttled (429) answer is held back. */
  throttleDelayMs: number;
  /** argon2id verifications run at once. */
  argon2Concurrency: number;
  /** argon2id verifications that may wait for a turn; beyond that, 503 without queueing. */
  argon2Queue: number;
  /** Open connections in all. */
  maxConnections: number;
  /** Open connections per source address (0: no limit); trusted proxies are exempt. */
  maxConnectionsPerAddress: number;
  /** The whole request, headers and body, must arrive within this. */
  requestTimeoutMs: number;
}

/** Every environment variable Portier reads (the README's configuration table). */
export const CONFIG_VARIABLES = [
  'DATABASE_URL',
  'DATABASE_POOL_SIZE',
  'DATABASE_CONNECT_TIMEOUT',
  'DATABASE_STATEMENT_TIMEOUT',
  'DATABASE_CA_FILE',
  'DATA_DIR',
  'PORT',
  'HOST',
  'ISSUER',
  'ACCESS_TOKEN_TTL',
  'SIGNING_ALG',
  'KEY_ENCRYPTION_KEY',
  'KEY_ENCRYPTION_KEY_PREVIOUS',
  'KEY_ROTATION_DAYS',
  'TRUST_PROXY',
  'BOOTSTRAP_ADMIN_CLIENT_ID',
  'BOOTSTRAP_ADMIN_CLIENT_SECRET',
  'LOG_LEVEL',
  'AUTH_FAILURES_PER_CLIENT_AND_ADDRESS',
  'AUTH_FAILURES_PER_ADDRESS',
  'AUTH_FAILURE_BURST_PER_ADDRESS',
  'AUTH_FAILURE_WINDOW',
  'AUTH_THROTTLE_DELAY_MS',
  'ARGON2_CONCURRENCY',
  'ARGON2_QUEUE',
  'MAX_CONNECTIONS',
  'MAX_CONNECTIONS_PER_ADDRESS',
  'REQUEST_TIMEOUT',
  'JWKS_URI_ALLOW_PRIVATE',
  'JWKS_URI_CA_FILE',
  'JWKS_URI_TIMEOUT',
  'DPOP_NONCE',
  'TOKEN_HOOK_URL',
  'TOKEN_HOOK_SECRET',
  'TOKEN_HOOK_TIMEOUT',
  'TOKEN_HOOK_ON_FAILURE',
  'TOKEN_QUOTA_PER_HOUR',
  'TOKEN_QUOTA_PER_DAY',
  'TOKEN_QUOTA_MODE',
] as const;

export const SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** DATABASE_POOL_SIZE, DATABASE_CONNECT_TIMEOUT and DATABASE_STATEMENT_TIMEOUT when unset. */
export const DATABASE_DEFAULTS = { poolSize: 10, connectTimeout: 5_000, statementTimeout: 10_000 } as const;

/** A configuration problem; `message` is the one line printed before the process stops. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = parseIntegerVar(env, 'PORT', 8080, 0, 65_535);
  const databaseUrl = parseDatabaseUrl(env.DATABASE_URL);
  return {
    databaseUrl,
    databasePoolSize: parseIntegerVar(env, 'DATABASE_POOL_SIZE', DATABASE_DEFAULTS.poolSize, 1, 1000),
    // Milliseconds, and at least 100: a value like "5" is far more likely meant as seconds
    // than as a limit no connection could meet.
    databaseConnectTimeout: parseIntegerVar(
      env,
      'DATABASE_CONNECT_TIMEOUT',
      DATABASE_DEFAULTS.connectTimeout,
      100,
      600_000,
      'milliseconds',
    ),
    databaseStatementTimeout: parseStatementTimeout(env),
    databaseCa: parseDatabaseCaFile(env.DATABASE_CA_FILE, databaseUrl),
    dataDir: nonEmpty(env.DATA_DIR) ?? './data',
    port,
    host: nonEmpty(env.HOST) ?? '127.0.0.1',
    issuer: parseIssuer(env.ISSUER, port),
    accessTokenTtl: parseIntegerVar(env, 'ACCESS_TOKEN_TTL', 3600, MIN_TOKEN_TTL, MAX_TOKEN_TTL),
    signingAlg: parseChoice(env, 'SIGNING_ALG', SIGNING_ALGS, 'ES256'),
    keyEncryptionKey: parseKeyEncryptionKey(env, 'KEY_ENCRYPTION_KEY'),
    keyEncryptionKeyPrevious: parsePreviousKeyEncryptionKey(env),
    keyRotationDays:
      nonEmpty(env.KEY_ROTATION_DAYS) === undefined ? undefined : parseIntegerVar(env, 'KEY_ROTATION_DAYS', 0, 1, 3650, 'days'),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    bootstrapAdmin: parseBootstrapAdmin(env),
    logLevel: parseChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    protection: parseProtection(env),
    jwksUri: {
      allowPrivate: parseBoolean(env, 'JWKS_URI_ALLOW_PRIVATE', false),
      ca: parseJwksUriCaFile(env.JWKS_URI_CA_FILE),
      timeoutMs: parseIntegerVar(env, 'JWKS_URI_TIMEOUT', 5000, 100, 60_000, 'milliseconds'),
    },
    dpopNonce: parseBoolean(env, 'DPOP_NONCE', false),
    tokenHook: parseTokenHook(env),
    tokenQuota: {
      perHour: parseOptionalLimit(env, 'TOKEN_QUOTA_PER_HOUR'),
      perDay: parseOptionalLimit(env, 'TOKEN_QUOTA_PER_DAY'),
      mode: parseChoice(env, 'TOKEN_QUOTA_MODE', QUOTA_MODES, 'enforce'),
    },
  };
}

function parseOptionalLimit(env: Env, name: string): number | undefined {
  return nonEmpty(env[name]) === undefined ? undefined : parseIntegerVar(env, name, 0, 1, MAX_QUOTA, 'tokens');
}

/** Host names that are the loopback by definition: the only ones a hook may be reached at over plain http. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * TOKEN_HOOK_URL and its companions. The other TOKEN_HOOK_* variables mean nothing
 * without the URL: set alone, they are a mistake (the URL forgotten), not a default.
 */
function parseTokenHook(env: Env): TokenHookConfig | undefined {
  const raw = nonEmpty(env.TOKEN_HOOK_URL);
  if (raw === undefined) {
    for (const name of ['TOKEN_HOOK_SECRET', 'TOKEN_HOOK_TIMEOUT', 'TOKEN_HOOK_ON_FAILURE'] as const) {
      if (nonEmpty(env[name]) !== undefined) throw new ConfigError(name, 'is set, but TOKEN_HOOK_URL is not');
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('TOKEN_HOOK_URL', `is not a valid URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ConfigError('TOKEN_HOOK_URL', 'must be an https:// URL (http:// only to a loopback address: 127.0.0.0/8, ::1, localhost)');
  }
  // Credentials in the URL would end up wherever the URL is shown; the hook authenticates
  // Portier by the signature instead.
  if (url.username !== '' || url.password !== '') throw new ConfigError('TOKEN_HOOK_URL', 'must not contain a user name or password');
  if (url.hash !== '') throw new ConfigError('TOKEN_HOOK_URL', 'must not contain a fragment');
  // Taken verbatim, like BOOTSTRAP_ADMIN_CLIENT_SECRET: any printable characters.
  const secret = env.TOKEN_HOOK_SECRET ?? '';
  if (secret === '') throw new ConfigError('TOKEN_HOOK_SECRET', 'must be set when TOKEN_HOOK_URL is');
  if (secret.length < 32) throw new ConfigError('TOKEN_HOOK_SECRET', `must be at least 32 characters, got ${secret.length}`);
  return {
    url: url.toString(),
    secret,
    timeoutMs: parseIntegerVar(env, 'TOKEN_HOOK_TIMEOUT', 500, 10, 60_000, 'milliseconds'),
    onFailure: parseChoice(env, 'TOKEN_HOOK_ON_FAILURE', HOOK_FAILURE_MODES, 'deny'),
  };
}

function parseBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function parseJwksUriCaFile(raw: string | undefined): JwksUriConfig['ca'] {
  const file = nonEmpty(raw);
  if (file === undefined) return undefined;
  return { file, pem: readPemCertificates('JWKS_URI_CA_FILE', file) };
}

/** The contents of a PEM file of CA certificates, or a ConfigError naming `variable`. */
function readPemCertificates(variable: string, file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new ConfigError(variable, `cannot read ${file} (${reason})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(variable, `${file} contains no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

function parseProtection(env: Env): ProtectionConfig {
  const argon2Concurrency = parseIntegerVar(env, 'ARGON2_CONCURRENCY', availableParallelism(), 1, 64);
  return {
    failuresPerClientAndAddress: parseIntegerVar(env, 'AUTH_FAILURES_PER_CLIENT_AND_ADDRESS', 10, 1, 1_000_000),
    failuresPerAddress: parseIntegerVar(env, 'AUTH_FAILURES_PER_ADDRESS', 100, 1, 1_000_000),
    failureBurstPerAddress: parseIntegerVar(env, 'AUTH_FAILURE_BURST_PER_ADDRESS', 20, 1, 1_000_000),
    failureWindowMs: parseIntegerVar(env, 'AUTH_FAILURE_WINDOW', 60, 1, 86_400) * 1000,
    throttleDelayMs: parseIntegerVar(env, 'AUTH_THROTTLE_DELAY_MS', 1000, 0, 10_000),
    argon2Concurrency,
    argon2Queue: parseIntegerVar(env, 'ARGON2_QUEUE', 4 * argon2Concurrency, 0, 10_000),
    maxConnections: parseIntegerVar(env, 'MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    maxConnectionsPerAddress: parseIntegerVar(env, 'MAX_CONNECTIONS_PER_ADDRESS', 256, 0, 1_000_000),
    requestTimeoutMs: parseIntegerVar(env, 'REQUEST_TIMEOUT', 10, 1, 600) * 1000,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parseIntegerVar(env: Env, name: string, fallback: number, min: number, max: number, unit = ''): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number${unit && ` of ${unit}`}, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}${unit && ` ${unit}`}, got ${value}`);
  return value;
}

function parseChoice<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const found = choices.find((choice) => choice === raw);
  if (found === undefined) throw new ConfigError(name, `must be one of ${choices.join(', ')}, got "${raw}"`);
  return found;
}

function parseDatabaseUrl(raw: string | undefined): string | undefined {
  const value = nonEmpty(raw);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a valid URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must start with postgres:// or postgresql://, got "${url.protocol}//"`);
  }
  const sslmode = url.searchParams.get('sslmode');
  // node-postgres takes a value it does not know for verify-full: refuse it rather than
  // guess what was meant.
  if (sslmode !== null && !SSL_MODES.some((mode) => mode === sslmode)) {
    throw new ConfigError('DATABASE_URL', `sslmode must be one of ${SSL_MODES.join(', ')}, got "${sslmode}"`);
  }
  return value;
}

/** What node-postgres makes of `sslmode` in the URL (see the README's "Production PostgreSQL"). */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;

function parseStatementTimeout(env: Env): number {
  const raw = nonEmpty(env.DATABASE_STATEMENT_TIMEOUT);
  if (raw === undefined) return DATABASE_DEFAULTS.statementTimeout;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (value !== 0 && !(value >= 100 && value <= 3_600_000)) {
    throw new ConfigError('DATABASE_STATEMENT_TIMEOUT', `must be 0 (no limit) or 100 to 3600000 milliseconds, got "${raw}"`);
  }
  return value;
}

function parseDatabaseCaFile(raw: string | undefined, databaseUrl: string | undefined): Config['databaseCa'] {
  const file = nonEmpty(raw);
  if (file === undefined) return undefined;
  if (databaseUrl === undefined)
    throw new ConfigError('DATABASE_CA_FILE', 'is set, but DATABASE_URL is not (the embedded database has no TLS)');
  const sslmode = new URL(databaseUrl).searchParams.get('sslmode');
  if (sslmode === 'disable' || sslmode === 'no-verify') {
    throw new ConfigError('DATABASE_CA_FILE', `is set, but DATABASE_URL has sslmode=${sslmode}, which does not check the certificate`);
  }
  return { file, pem: readPemCertificates('DATABASE_CA_FILE', file) };
}

function parseIssuer(raw: string | undefined, port: number): string {
  const value = nonEmpty(raw);
  if (value === undefined) return `http://localhost:${port}`;
  // The URL parser silently drops tabs and newlines, but the raw value is what goes into tokens.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (/[\s\x00-\x1f\x7f]/.test(value)) throw new ConfigError('ISSUER', 'must not contain whitespace or control characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('ISSUER', `is not a valid URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('ISSUER', 'must be an http:// or https:// URL');
  }
  // RFC 8414 §2: the issuer has no query or fragment components.
  // (An empty `?` or `#` leaves url.search/url.hash empty, hence the look at the raw value.)
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(value)) {
    throw new ConfigError('ISSUER', 'must not contain a query or fragment');
  }
  return value.replace(/\/+$/, '');
}

function parseKeyEncryptionKey(env: Env, name: 'KEY_ENCRYPTION_KEY' | 'KEY_ENCRYPTION_KEY_PREVIOUS'): Buffer | undefined {
  const value = nonEmpty(env[name]);
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) throw new ConfigError(name, 'must be base64');
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(name, `must decode to exactly 32 bytes, got ${key.length}`);
  }
  return key;
}

/**
 * KEY_ENCRYPTION_KEY_PREVIOUS only makes sense beside a current key: keys opened with it
 * are re-sealed under KEY_ENCRYPTION_KEY, and there is no going back to keys in clear.
 */
function parsePreviousKeyEncryptionKey(env: Env): Buffer | undefined {
  const previous = parseKeyEncryptionKey(env, 'KEY_ENCRYPTION_KEY_PREVIOUS');
  if (previous !== undefined && nonEmpty(env.KEY_ENCRYPTION_KEY) === undefined) {
    throw new ConfigError(
      'KEY_ENCRYPTION_KEY_PREVIOUS',
      'is set, but KEY_ENCRYPTION_KEY is not (keys are re-sealed under the current key)',
    );
  }
  return previous;
}

function parseTrustProxy(raw: string | undefined): boolean | number | string[] {
  const value = nonEmpty(raw);
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    // normalizeCidr, like the client IP ranges: refuses octal/hex/short IPv4 forms such as
    // `010.0.0.1`, which ipaddr.js (and so Fastify) would read as 8.0.0.1.
    if (normalizeCidr(entry) === undefined) {
      throw new ConfigError('TRUST_PROXY', `expected false, true, a hop count or a list of IPs/CIDRs; "${entry}" is none`);
    }
  }
  return entries;
}

function parseBootstrapAdmin(env: Env): Config['bootstrapAdmin'] {
  // The secret is taken verbatim (not trimmed): any printable characters are allowed.
  const clientId = nonEmpty(env.BOOTSTRAP_ADMIN_CLIENT_ID);
  const clientSecret = env.BOOTSTRAP_ADMIN_CLIENT_SECRET === '' ? undefined : env.BOOTSTRAP_ADMIN_CLIENT_SECRET;
  if (clientId === undefined && clientSecret === undefined) return undefined;
  if (clientId === undefined) throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_ID', 'must be set when BOOTSTRAP_ADMIN_CLIENT_SECRET is');
  if (clientSecret === undefined) throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_SECRET', 'must be set when BOOTSTRAP_ADMIN_CLIENT_ID is');
  if (!CLIENT_ID_PATTERN.test(clientId)) {
    throw new ConfigError(
      'BOOTSTRAP_ADMIN_CLIENT_ID',
      `must be 3–64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit; got ${JSON.stringify(clientId)}`,
    );
  }
  if (clientSecret.length < 16) throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_SECRET', 'must be at least 16 characters');
  if (clientSecret.length > 512) throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_SECRET', 'must be at most 512 characters');
  if (!/^[\x20-\x7e]+$/.test(clientSecret)) {
    throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_SECRET', 'must consist of printable ASCII characters');
  }
  return { clientId, clientSecret };
}
