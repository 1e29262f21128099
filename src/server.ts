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
import type { TokenEndpointContext } from './oauth/token.js';
import { UsageTracker } from './oauth/usage.js';

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
  /** Every scope of every service, for discovery's scopes_supported. */
  scopeCatalogue(): Promise<string[]>;
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
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    trustProxy: trustProxyOption(config.trustProxy),
    genReqId: () => randomUUID(),
    // Two log lines per request would dominate the token endpoint's cost; routes log
    // what matters (refusals, failures) themselves.
    logController: new LogController({ disableRequestLogging: true }),
    // Explicit timeouts: a slow client cannot hold a connection forever.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 65_000,
    bodyLimit: 1024 * 1024,
    // Reject duplicate slashes etc. the same way everywhere; ignore a trailing slash.
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      // Unknown fields are refused, not silently dropped, and every bad field is reported.
      // allErrors is safe here because every string and array in the schemas has a
      // length limit and admin bodies are capped at 256 KiB.
      customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', useDefaults: true },
    },
  });

  const portier = createPortier(config, database, logger);
  app.decorate('portier', portier);

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
  app.get('/readyz', async (request, reply) => {
    try {
      await database.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
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

function createPortier(config: Config, database: Database, logger: Logger): Portier {
  const { db } = database;
  const logError = (what: string) => (error: unknown) => logger.error({ err: error }, what);
  const directory = new ClientDirectory(db);
  const keys = new KeyCache(db, config.keyEncryptionKey);
  const generation = new GenerationWatcher(db, logError('cache generation poll failed'));
  const revocations = new RevocationList(db);
  let scopes: Promise<string[]> | undefined;
  generation.onChange(() => {
    directory.invalidate();
    keys.invalidate();
    revocations.invalidate();
    scopes = undefined;
  });
  return {
    config,
    database,
    db,
    directory,
    keys,
    generation,
    revocations,
    metrics: new Metrics(),
    usage: new UsageTracker(db, logError('writing last_used_at failed')),
    denials: new DenialRecorder(db, logError('writing a token denial to the audit trail failed')),
    tokenEndpoint: {
      issuer: config.issuer,
      accessTokenTtl: config.accessTokenTtl,
      db,
      directory,
      keys,
      revocations,
      onChange: () => generation.changed(),
    },
    scopeCatalogue() {
      scopes ??= db
        .select({ scopes: services.scopes })
        .from(services)
        .then((rows) => [...new Set(rows.flatMap((row) => row.scopes))].sort());
      return scopes;
    },
  };
}
