/**
 * Every environment variable Portier reads, declared once. The table has the shape of
 * Config (config.ts derives that type from it); each entry holds a variable's whole story:
 * its name, what it means, its default, its bounds, and any rule that ties it to another
 * variable. loadConfig, the list of variables, the database defaults and the check of the
 * README's configuration table (test/config.test.ts) all come from here.
 *
 * To add a variable:
 * 1. Add one entry where its value belongs in Config, of the kind that fits (config/kinds.ts):
 *    `integer` (min, max, and a unit for the messages if one helps), `boolean`, `choice`,
 *    `text`, or `custom` with a parse function for any other format (config/formats.ts has
 *    URLs, keys, PEM files…): it throws `BadValue('must be …')`, and the variable's name is put
 *    in front. The default is a literal, `unset('what that means')`, or
 *    `computed('how the README says it', (env) => …)`.
 * 2. Add its row to the README's configuration table. The test reads the README and wants
 *    every variable there, with the declared default in the default column, to the letter.
 * Values arrive trimmed, and an empty one counts as unset. A rule between two variables goes
 * into the later one's parse function or default, which reads the other with
 * `SETTINGS.….read(env)` (see ISSUER or DATABASE_CA_FILE), and whose return type is then
 * written out (TypeScript cannot infer a type from the table inside the table). loadConfig
 * reads the entries in the table's order and stops at the first bad one, so put the other
 * variable first.
 */
import { availableParallelism } from 'node:os';
import {
  DEFAULT_KEY_PUBLICATION_LEAD,
  JWKS_MAX_AGE_SECONDS,
  MAX_KEY_PUBLICATION_LEAD,
  MAX_TOKEN_TTL,
  MIN_TOKEN_TTL,
} from '../schemas/limits.js';
import { aes256Key, clientId, clientSecret, issuerUrl, type PemFile, pemFile, postgresUrl, trustProxy } from './formats.js';
import {
  BadValue,
  blame,
  boolean,
  ConfigError,
  choice,
  combined,
  computed,
  custom,
  inMilliseconds,
  integer,
  nonEmpty,
  Setting,
  text,
  unset,
} from './kinds.js';
import { CONSOLE, OIDC, readConsole, readOidc, variablesOf } from './people.js';
import { readTokenHook, TOKEN_HOOK, TOKEN_QUOTA } from './policy.js';

/**
 * The algorithms Portier signs its tokens with. `Ed25519` is RFC 9864's fully-specified
 * name for what `EdDSA` means with an Ed25519 key: the same signatures, under a name that
 * older verifiers do not know yet, hence not the default for Ed25519 keys.
 */
export const SIGNING_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The longest access token lifetime we accept (see schemas/limits.ts). */
export const MAX_ACCESS_TOKEN_TTL = MAX_TOKEN_TTL;

/** MANAGEMENT_PORT's number, read inside the `management` entry. */
const MANAGEMENT_PORT = integer({ name: 'MANAGEMENT_PORT', doc: '', default: unset(), min: 0, max: 65_535 });

/** The configuration table (see the top of this file). */
export const SETTINGS = {
  databaseUrl: custom({
    name: 'DATABASE_URL',
    doc: '`postgres://…` for a real PostgreSQL server, directly or through a pooler; `?sslmode=…` for TLS',
    default: unset('embedded PGlite in `DATA_DIR`'),
    parse: postgresUrl,
  }),
  databasePoolSize: integer({
    name: 'DATABASE_POOL_SIZE',
    doc: 'connections each instance opens to PostgreSQL at most',
    default: 10,
    min: 1,
    max: 1000,
  }),
  databaseConnectTimeout: integer({
    name: 'DATABASE_CONNECT_TIMEOUT',
    doc: 'milliseconds to open a database connection, or to wait for a free one',
    default: 5000,
    // At least 100: a value like "5" is far more likely meant as seconds than as a limit
    // no connection could meet.
    min: 100,
    max: 600_000,
    unit: 'milliseconds',
  }),
  databaseStatementTimeout: custom({
    name: 'DATABASE_STATEMENT_TIMEOUT',
    doc: 'milliseconds a database query may take before it fails; 0: no limit',
    default: 10_000,
    parse: (value) => {
      const milliseconds = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (milliseconds !== 0 && !(milliseconds >= 100 && milliseconds <= 3_600_000)) {
        throw new BadValue(`must be 0 (no limit) or 100 to 3600000 milliseconds, got "${value}"`);
      }
      return milliseconds;
    },
  }),
  databaseCa: custom({
    name: 'DATABASE_CA_FILE',
    doc: "PEM file of the CA certificate(s) that signed PostgreSQL's TLS certificate; turns on TLS with full verification",
    default: unset("`sslmode` decides, against Node's trusted CAs"),
    parse: (file, env): PemFile => {
      const databaseUrl = SETTINGS.databaseUrl.read(env);
      if (databaseUrl === undefined) throw new BadValue('is set, but DATABASE_URL is not (the embedded database has no TLS)');
      const sslmode = new URL(databaseUrl).searchParams.get('sslmode');
      if (sslmode === 'disable' || sslmode === 'no-verify') {
        throw new BadValue(`is set, but DATABASE_URL has sslmode=${sslmode}, which does not check the certificate`);
      }
      return pemFile(file);
    },
  }),
  dataDir: text({ name: 'DATA_DIR', doc: 'where the embedded database lives (kept across restarts)', default: './data' }),
  port: integer({ name: 'PORT', doc: 'the port to listen on', default: 8080, min: 0, max: 65_535 }),
  host: text({ name: 'HOST', doc: 'the address to listen on', default: '127.0.0.1' }),
  issuer: custom({
    name: 'ISSUER',
    doc: 'the `iss` of every token, and base of the discovery URLs (no trailing slash, no query)',
    default: computed('`http://localhost:$PORT`', (env): string => `http://localhost:${SETTINGS.port.read(env)}`),
    parse: issuerUrl,
  }),
  accessTokenTtl: integer({
    name: 'ACCESS_TOKEN_TTL',
    doc: 'access token lifetime in seconds, unless the client or its services set their own',
    default: 3600,
    min: MIN_TOKEN_TTL,
    max: MAX_TOKEN_TTL,
  }),
  signingAlg: choice({ name: 'SIGNING_ALG', doc: 'the algorithm new signing keys are made for', default: 'ES256', choices: SIGNING_ALGS }),
  keyEncryptionKey: custom({
    name: 'KEY_ENCRYPTION_KEY',
    doc: '32 bytes, base64: seals private signing keys at rest with AES-256-GCM',
    default: unset('keys stored unencrypted, with a warning at start'),
    parse: aes256Key,
  }),
  keyEncryptionKeyPrevious: custom({
    name: 'KEY_ENCRYPTION_KEY_PREVIOUS',
    doc: 'the key-encryption key before the last change: read only, keys sealed under it are re-sealed under KEY_ENCRYPTION_KEY',
    default: unset(),
    parse: (value, env): Buffer => {
      const key = aes256Key(value);
      // Only beside a current key: keys opened with this one are re-sealed under
      // KEY_ENCRYPTION_KEY, and there is no going back to keys in clear.
      if (nonEmpty(env.KEY_ENCRYPTION_KEY) === undefined) {
        throw new BadValue('is set, but KEY_ENCRYPTION_KEY is not (keys are re-sealed under the current key)');
      }
      return key;
    },
  }),
  keyRotationDays: integer({
    name: 'KEY_ROTATION_DAYS',
    doc: 'rotate the signing key automatically once it has signed this many days',
    default: unset('no automatic rotation'),
    min: 1,
    max: 3650,
    unit: 'days',
  }),
  keyPublicationLead: integer({
    name: 'KEY_PUBLICATION_LEAD',
    doc: 'seconds a next signing key is published in the JWKS before it signs, in every rotation',
    default: computed('`360` (the max-age plus a minute)', () => DEFAULT_KEY_PUBLICATION_LEAD),
    min: JWKS_MAX_AGE_SECONDS,
    max: MAX_KEY_PUBLICATION_LEAD,
    unit: 'seconds (at least the JWKS max-age, at most 30 days)',
  }),
  trustProxy: custom({
    name: 'TRUST_PROXY',
    doc: "how to find the caller's IP behind proxies (Fastify's trustProxy): false, true, a hop count, or a list of proxy IPs/CIDRs",
    default: false,
    parse: trustProxy,
  }),
  bootstrapAdmin: combined({
    variables: [
      {
        name: 'BOOTSTRAP_ADMIN_CLIENT_ID',
        doc: 'with the secret: an admin client that must exist (made at start if not)',
        default: unset(),
      },
      { name: 'BOOTSTRAP_ADMIN_CLIENT_SECRET', doc: 'its secret: 16–512 printable ASCII characters, taken verbatim', default: unset() },
    ],
    read: (env) => {
      const id = nonEmpty(env.BOOTSTRAP_ADMIN_CLIENT_ID);
      // The secret is not trimmed: any printable characters are allowed, spaces too.
      const secret = env.BOOTSTRAP_ADMIN_CLIENT_SECRET === '' ? undefined : env.BOOTSTRAP_ADMIN_CLIENT_SECRET;
      if (id === undefined && secret === undefined) return undefined;
      if (id === undefined) throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_ID', 'must be set when BOOTSTRAP_ADMIN_CLIENT_SECRET is');
      if (secret === undefined) throw new ConfigError('BOOTSTRAP_ADMIN_CLIENT_SECRET', 'must be set when BOOTSTRAP_ADMIN_CLIENT_ID is');
      return {
        clientId: blame('BOOTSTRAP_ADMIN_CLIENT_ID', () => clientId(id)),
        clientSecret: blame('BOOTSTRAP_ADMIN_CLIENT_SECRET', () => clientSecret(secret)),
      };
    },
  }),
  logLevel: choice({ name: 'LOG_LEVEL', doc: 'pino level', default: 'info', choices: LOG_LEVELS }),
  /** Limits that keep the server up under attack: see protection/ and the README's "Abuse resistance". */
  protection: {
    failuresPerClientAndAddress: integer({
      name: 'AUTH_FAILURES_PER_CLIENT_AND_ADDRESS',
      doc: 'failed client authentications one source address may have for one client_id per window, before 429',
      default: 10,
      min: 1,
      max: 1_000_000,
    }),
    failuresPerAddress: integer({
      name: 'AUTH_FAILURES_PER_ADDRESS',
      doc: 'failed client authentications one source address (an IPv6 /64) may have per window, whatever client_ids it names',
      default: 100,
      min: 1,
      max: 1_000_000,
    }),
    failureBurstPerAddress: integer({
      name: 'AUTH_FAILURE_BURST_PER_ADDRESS',
      doc: 'of those, how many one source address may have at once',
      default: 20,
      min: 1,
      max: 1_000_000,
    }),
    failureWindowMs: inMilliseconds(
      integer({ name: 'AUTH_FAILURE_WINDOW', doc: 'the window of both budgets, in seconds', default: 60, min: 1, max: 86_400 }),
    ),
    throttleDelayMs: integer({
      name: 'AUTH_THROTTLE_DELAY_MS',
      doc: 'how long a 429, or a 503 for a full argon2 queue, is held back before it is sent (the tarpit); 0 sends it at once',
      default: 1000,
      min: 0,
      max: 10_000,
    }),
    argon2Concurrency: integer({
      name: 'ARGON2_CONCURRENCY',
      doc: 'argon2id verifications run at once, each on a low-priority thread of its own',
      default: computed('the number of cores', () => availableParallelism()),
      min: 1,
      max: 64,
    }),
    argon2Queue: integer({
      name: 'ARGON2_QUEUE',
      doc: 'argon2id verifications that may wait for a turn; beyond that, 503 without queueing',
      default: computed('4 × `ARGON2_CONCURRENCY`', (env): number => 4 * SETTINGS.protection.argon2Concurrency.read(env)),
      min: 0,
      max: 10_000,
    }),
    /** Undefined: follow the open-file limit (see protection/connections.ts, which works it out at start). */
    maxConnections: integer({
      name: 'MAX_CONNECTIONS',
      doc: 'open connections in all',
      default: computed(
        '80 % of the open-file limit, at most one per 64 KiB of memory (10000 where the limit cannot be read)',
        () => undefined,
      ),
      min: 1,
      max: 1_000_000,
    }),
    maxConnectionsPerAddress: integer({
      name: 'MAX_CONNECTIONS_PER_ADDRESS',
      doc: 'open connections per source address; 0: no limit (trusted proxies are exempt)',
      default: 256,
      min: 0,
      max: 1_000_000,
    }),
    requestTimeoutMs: inMilliseconds(
      integer({
        name: 'REQUEST_TIMEOUT',
        doc: "seconds within which a request's headers and body must have arrived",
        default: 10,
        min: 1,
        max: 600,
      }),
    ),
  },
  /** Outgoing fetches of client key sets (oauth/client-auth/remote-jwks.ts): an admin chooses the URL, so they are fenced in. */
  jwksUri: {
    allowPrivate: boolean({
      name: 'JWKS_URI_ALLOW_PRIVATE',
      doc: "true lets a client's jwks_uri resolve to loopback, private, link-local and other non-public addresses",
      default: false,
    }),
    ca: custom({
      name: 'JWKS_URI_CA_FILE',
      doc: "PEM file of CA certificate(s) trusted for jwks_uri fetches, besides Node's own",
      default: unset(),
      parse: pemFile,
    }),
    timeoutMs: integer({
      name: 'JWKS_URI_TIMEOUT',
      doc: 'milliseconds a jwks_uri fetch (connect, TLS, answer) may take',
      default: 5000,
      min: 100,
      max: 60_000,
      unit: 'milliseconds',
    }),
  },
  dpopNonce: boolean({
    name: 'DPOP_NONCE',
    doc: 'true: DPoP proofs at the token endpoint must carry a nonce the server issued (RFC 9449 §8)',
    default: false,
  }),
  clientAssertionMaxLifetime: integer({
    name: 'CLIENT_ASSERTION_MAX_LIFETIME',
    doc: 'seconds a private_key_jwt assertion may still be valid for when it arrives (exp − now, and exp − iat)',
    default: 3600,
    min: 60,
    max: 86_400,
    unit: 'seconds',
  }),
  /** People's sign-in to the console through the organisation's OpenID Connect provider (config/people.ts); undefined: no SSO. */
  oidc: new Setting(variablesOf(OIDC), readOidc),
  /** The console's sessions, and whether it offers the admin-client sign-in (config/people.ts). */
  console: new Setting(variablesOf(CONSOLE), readConsole),
  /** The issuance hook (config/policy.ts); undefined: none. */
  tokenHook: new Setting(variablesOf(TOKEN_HOOK), readTokenHook),
  /** The quota of clients without a token_quota of their own (config/policy.ts, policy/quota.ts). */
  tokenQuota: TOKEN_QUOTA,
  auditRetentionDays: integer({
    name: 'AUDIT_RETENTION_DAYS',
    doc: 'audit events older than this many days are deleted; 0 keeps them all',
    default: 365,
    min: 0,
    max: 36_500,
    unit: 'days',
  }),
  /**
   * Where /metrics, /healthz and /readyz are served apart from the public port (which then
   * no longer serves /metrics); undefined: on the public port. Its host defaults to all
   * interfaces, unlike HOST: what reads it (Prometheus, the kubelet's probes) comes from
   * another machine, while the public port usually sits behind a proxy on the same one.
   */
  management: combined({
    variables: [
      { name: 'MANAGEMENT_PORT', doc: 'serve /metrics, /healthz and /readyz on this port too', default: unset('all on `PORT`') },
      {
        name: 'MANAGEMENT_HOST',
        doc: "the management port's listen address (only with MANAGEMENT_PORT)",
        default: computed('`0.0.0.0` when `MANAGEMENT_PORT` is set', () => undefined),
      },
    ],
    read: (env): { port: number; host: string } | undefined => {
      const host = nonEmpty(env.MANAGEMENT_HOST);
      if (nonEmpty(env.MANAGEMENT_PORT) === undefined) {
        if (host !== undefined) throw new ConfigError('MANAGEMENT_HOST', 'is set, but MANAGEMENT_PORT is not');
        return undefined;
      }
      const port = MANAGEMENT_PORT.read(env) ?? 0;
      if (port !== 0 && port === SETTINGS.port.read(env))
        throw new ConfigError('MANAGEMENT_PORT', `must differ from PORT (both are ${port})`);
      return { port, host: host ?? '0.0.0.0' };
    },
  }),
};
