import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { adminRoutes } from './admin/routes.js';
import { openApi } from './admin/openapi.js';
import { DenialRecorder } from './audit/denials.js';
import type { Config } from './config.js';
import type { Database, Db } from './db/connect.js';
import { GenerationWatcher } from './db/generation.js';
import { services } from './db/schema.js';
import { createLogger } from './logger.js';
import { Metrics, metricsRoutes } from './metrics.js';
import { ClientDirectory } from './oauth/client-directory.js';
import { wellKnownRoutes } from './oauth/discovery.js';
import { KeyCache } from './oauth/keys.js';
import { RevocationList } from './oauth/revocations.js';
import { tokenRoutes } from './oauth/routes.js';
import { SecretVerifier } from './oauth/secret-verifier.js';
import type { TokenEndpointContext } from './oauth/token.js';
import { UsageTracker } from './oauth/usage.js';
import { isAddressAllowed, normalizeCidr, parseNetworks } from './clients/rules.js';
import { verifySecret } from './clients/secrets.js';
import { databaseErrorKind } from './db/errors.js';
import { loadFingerprintKey } from './db/settings.js';
import { createErrorHandler } from './http/errors.js';
import { Cached } from './lib/cached.js';
import { ClientFingerprints } from './lib/redact.js';
import { RepeatedLog } from './lib/repeated-log.js';
import { Admission } from './protection/admission.js';
import { capConnections } from './protection/connections.js';
import { FailureBudgets } from './protection/failure-budget.js';
import { Tarpit } from './protection/tarpit.js';

export interface ServerDeps {
  config: Config;
  database: Database;
  /** Defaults to a pino logger at config.logLevel on stdout. */
  logger?: Logger;
}

/** The services routes use, attached to the Fastify instance as `app.portier`. */
export interface Portier {
  config: Config;
  database: Database;
  db: Db;
  directory: ClientDirectory;
  keys: KeyCache;
  usage: UsageTracker;
  denials: DenialRecorder;
  generation: GenerationWatcher;
  revocations: RevocationList;
  metrics: Metrics;
  tokenEndpoint: TokenEndpointContext;
  tarpit: Tarpit;
  /** For failures that repeat (an outage fails every request): at most a line a second per kind. */
  repeatedLog: RepeatedLog;
  /** Every scope of every service, for discovery's scopes_supported. */
  scopeCatalogue: Cached<string[]>;
}

declare module 'fastify' {
  interface FastifyInstance {
    portier: Portier;
  }
}

/**
 * Builds the Fastify application on an already prepared database (see prepareDatabase).
 * Tests call this and use `inject()`; main.ts calls it and listens.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, database } = deps;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const { protection } = config;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: trustProxyOption(config.trustProxy),
    genReqId: () => randomUUID(),
    // Two log lines per request would dominate the token endpoint's cost; routes log
    // what matters (refusals, failures) themselves.
    logController: new LogController({ disableRequestLogging: true }),
    // Explicit timeouts: a slow client cannot hold a connection for long. The whole
    // request, headers and body, must arrive within REQUEST_TIMEOUT; Node checks that
    // every connectionsCheckingInterval, which by default is 30 s and let a connection
    // trickling its headers live for most of a minute.
    connectionTimeout: 30_000,
    requestTimeout: protection.requestTimeoutMs,
    keepAliveTimeout: 65_000,
    http: { headersTimeout: protection.requestTimeoutMs, connectionsCheckingInterval: 1000 },
    bodyLimit: 1024 * 1024,
    // Reject duplicate slashes etc. the same way everywhere; ignore a trailing slash.
    routerOptions: { ignoreTrailingSlash: true },
    // A path the router cannot decode (/admin/clients/%zz) or a path parameter over its
    // length limit: answered by the error handler like every other error, in the form of
    // its area, rather than with Fastify's own JSON body.
    frameworkErrors: (error, request, reply) => request.server.errorHandler(error, request, reply),
  });

  const portier = await createPortier(config, database, logger);
  app.decorate('portier', portier);
  app.setErrorHandler(createErrorHandler(portier.repeatedLog));
  capConnections(app.server, protection, exemptFromAddressCap(config.trustProxy), logger);

  app.addHook('onReady', async () => {
    await portier.generation.start();
    portier.usage.start();
    portier.denials.start();
  });
  app.addHook('onClose', async () => {
    portier.generation.stop();
    await Promise.allSettled([portier.usage.stop(), portier.denials.stop()]);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await database.ping();
      return { status: 'ready' };
    } catch (error) {
      portier.repeatedLog.warn(`readyz: ${databaseErrorKind(error)}`, {}, 'database not reachable');
      return reply.status(503).send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });

  await app.register(openApi, { issuer: config.issuer });
  await app.register(metricsRoutes);
  await app.register(wellKnownRoutes);
  await app.register(tokenRoutes);
  await app.register(adminRoutes, { prefix: '/admin' });
  return app;
}

/**
 * Fastify 5 treats a bare number as "trust nothing", so TRUST_PROXY's hop count becomes
 * the equivalent function: trust the nearest `hops` proxies. (As with any hop count, a
 * caller that reaches Portier directly can then choose its own X-Forwarded-For; prefer a
 * list of proxy addresses.)
 */
function trustProxyOption(value: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  const hops = value;
  return (_address, hop) => hop < hops;
}

/**
 * Which connecting addresses the per-address connection cap leaves alone: the trusted
 * proxies, through which every caller arrives. With TRUST_PROXY=true or a hop count any
 * address may be a proxy, so the cap is off; the proxy must then limit connections itself.
 */
function exemptFromAddressCap(value: Config['trustProxy']): (address: string) => boolean {
  if (value === false) return () => false;
  if (value === true || typeof value === 'number') return () => true;
  const proxies = parseNetworks(value.map((entry) => normalizeCidr(entry) ?? entry));
  return (address) => isAddressAllowed(address, proxies);
}

async function createPortier(config: Config, database: Database, logger: Logger): Promise<Portier> {
  const { db } = database;
  const repeatedLog = new RepeatedLog(logger);
  const logError = (what: string) => (error: unknown) => repeatedLog.error(what, { err: error }, what);
  const { protection } = config;
  const metrics = new Metrics();
  const admission = new Admission(protection.argon2Concurrency, protection.argon2Queue);
  const verifier = new SecretVerifier(admission, verifySecret, () => metrics.argon2Verifications.inc());
  const directory = new ClientDirectory(db, verifier);
  const keys = new KeyCache(db, config.keyEncryptionKey);
  const generation = new GenerationWatcher(db, logError('cache generation poll failed'));
  const revocations = new RevocationList(db);
  const scopeCatalogue = new Cached(async () => {
    const rows = await db.select({ scopes: services.scopes }).from(services);
    return [...new Set(rows.flatMap((row) => row.scopes))].sort();
  });
  generation.onChange(() => {
    directory.invalidate();
    keys.invalidate();
    revocations.invalidate();
    scopeCatalogue.invalidate();
  });
  const budgets = new FailureBudgets({
    perClientAndAddress: protection.failuresPerClientAndAddress,
    perAddress: protection.failuresPerAddress,
    windowMs: protection.failureWindowMs,
  });
  return {
    config,
    database,
    db,
    directory,
    keys,
    generation,
    revocations,
    repeatedLog,
    metrics,
    tarpit: new Tarpit(protection.throttleDelayMs),
    usage: new UsageTracker(db, logError('writing last_used_at failed')),
    denials: new DenialRecorder(db, logError('writing a token denial to the audit trail failed')),
    tokenEndpoint: {
      issuer: config.issuer,
      accessTokenTtl: config.accessTokenTtl,
      db,
      directory,
      verifier,
      budgets,
      fingerprints: new ClientFingerprints(await loadFingerprintKey(db)),
      keys,
      revocations,
      onChange: () => generation.changed(),
    },
    scopeCatalogue,
  };
}
