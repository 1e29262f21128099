import { randomUUID } from 'node:crypto';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { adminRoutes } from './admin/index.js';
import { openApi } from './admin/openapi.js';
import type { Config } from './config.js';
import type { Database } from './db/connect.js';
import { consoleRoutes } from './http/console.js';
import { consoleAuthRoutes } from './http/console-auth.js';
import { createErrorHandler } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { serializerOf } from './http/serializers.js';
import { type Clock, systemClock } from './lib/clock.js';
import { trustedProxies } from './lib/networks.js';
import { createLogger } from './logger.js';
import { metricsRoutes } from './metrics.js';
import { wellKnownRoutes } from './oauth/discovery.js';
import { tokenRoutes } from './oauth/routes.js';
import { createPortier, type Portier } from './portier.js';
import { answerClientError } from './protection/client-errors.js';
import { capConnections } from './protection/connections.js';
import { TrustBundles } from './tls/spiffe.js';
import { httpsServerOptions, readTlsMaterial, TlsReloader } from './tls/termination.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The management listener's app (/metrics, /healthz, /readyz) when MANAGEMENT_PORT is
     * set: built, ready and closed with this app; server.ts makes it listen.
     */
    management: FastifyInstance | undefined;
    /** With TLS_CERT_FILE or SPIFFE_TRUST_BUNDLES: reloads the certificate, key, client CAs and trust bundles (server.ts calls it on SIGHUP; it also watches the files). */
    tls: TlsReloader | undefined;
  }
}

export interface AppDeps {
  config: Config;
  database: Database;
  /** Defaults to a pino logger at config.logLevel on stdout. */
  logger?: Logger;
  /** Defaults to the system clock; tests pass one they can move forward. */
  clock?: Clock;
}

/**
 * Builds the Fastify application on an already prepared database (see prepare.ts), in
 * order: the server's own settings (timeouts, connection caps, the one error handler),
 * the services routes use (portier.ts, as `app.portier`), then the routes. Tests call this
 * and use `inject()`; server.ts calls it and listens.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, database } = deps;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const { protection } = config;
  const timeouts = { headersTimeout: protection.requestTimeoutMs, connectionsCheckingInterval: 1000 };
  // With TLS_CERT_FILE, Fastify makes an HTTPS server, and passes it these options instead of `http`'s.
  const { https: tlsOptions, trustBundles } = tlsSetup(config, protection.requestTimeoutMs);
  const https = tlsOptions === undefined ? undefined : { ...tlsOptions, ...timeouts };
  const app = Fastify({
    ...(https !== undefined && { https }),
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
    http: timeouts,
    clientErrorHandler: answerClientError,
    bodyLimit: 1024 * 1024,
    // Reject duplicate slashes etc. the same way everywhere; ignore a trailing slash.
    routerOptions: { ignoreTrailingSlash: true },
    // A path the router cannot decode (/admin/clients/%zz) or a path parameter over its
    // length limit: answered by the error handler like every other error, in the form of
    // its area, rather than with Fastify's own JSON body.
    frameworkErrors: (error, request, reply) => request.server.errorHandler(error, request, reply),
  });

  const portier = await createPortier(config, database, logger, deps.clock ?? systemClock, trustBundles);
  app.decorate('portier', portier);
  app.setSerializerCompiler(serializerOf);
  app.setErrorHandler(createErrorHandler(portier.repeatedLog));
  app.decorate(
    'tls',
    config.tls === undefined && trustBundles === undefined ? undefined : watchTlsFiles(app, config.tls, trustBundles, logger),
  );
  capConnections(app.server, protection, exemptFromAddressCap(config.trustProxy), portier.repeatedLog, portier.metrics.connectionsClosed);

  app.addHook('onReady', async () => {
    await portier.generation.start();
    portier.lastUsed.start();
    portier.denials.start();
    portier.exchanges.start();
    portier.retention.start();
    portier.usage.start();
    portier.quotas.start();
    portier.deliveries.start();
    portier.notices.start();
    portier.mail?.start();
    // Discovery now, so that a provider that cannot be reached shows in the log at start;
    // nothing waits for it (see people/oidc.ts).
    portier.people?.provider
      .configuration()
      .catch((error: unknown) =>
        portier.repeatedLog.warn(
          'identity provider unreachable',
          { reason: String(error) },
          'OpenID Connect discovery failed: people cannot sign in yet',
        ),
      );
  });
  app.addHook('onClose', async () => {
    portier.generation.stop();
    await Promise.allSettled([
      portier.hook?.close(),
      portier.people?.provider.close(),
      portier.tokenEndpoint.remoteJwks.close(),
      portier.lastUsed.stop(),
      portier.denials.stop(),
      portier.exchanges.stop(),
      portier.retention.stop(),
      portier.usage.stop(),
      portier.quotas.stop(),
      portier.deliveries.stop(),
      portier.notices.stop(),
      portier.mail?.stop(),
    ]);
  });

  const management = config.management === undefined ? undefined : await buildManagementApp(portier, logger);
  app.decorate('management', management);
  if (management !== undefined) {
    app.addHook('onReady', async () => {
      await management.ready();
    });
    // After the public port has drained: metrics stay readable until then.
    app.addHook('onClose', async () => {
      await management.close();
    });
  }

  await app.register(healthRoutes);
  await app.register(openApi, { issuer: config.issuer });
  if (management === undefined) await app.register(metricsRoutes);
  await app.register(wellKnownRoutes);
  await app.register(tokenRoutes);
  await app.register(adminRoutes, { prefix: '/admin' });
  await app.register(consoleAuthRoutes);
  await app.register(consoleRoutes);
  return app;
}

/**
 * The HTTPS server's options with TLS_CERT_FILE, asking for client certificates of
 * TLS_CLIENT_CA_FILE's and the SPIFFE bundles' CAs; and the bundles, read once here.
 */
function tlsSetup(
  config: Config,
  requestTimeoutMs: number,
): { https: HttpsServerOptions | undefined; trustBundles: TrustBundles | undefined } {
  const material = config.tls === undefined ? undefined : readTlsMaterial(config.tls);
  const trustBundles = config.spiffeTrustBundles === undefined ? undefined : new TrustBundles(config.spiffeTrustBundles, material?.ca);
  const bundlePems = trustBundles === undefined ? [] : trustBundles.pems(trustBundles.bundles);
  return { https: material === undefined ? undefined : httpsServerOptions(material, bundlePems, requestTimeoutMs), trustBundles };
}

/** How often the TLS files are looked at for a change (a stat each). */
export const TLS_WATCH_INTERVAL_MS = 5000;

/**
 * The reloader of the HTTPS server's files, watching them from ready to close. A reload that
 * fails leaves the files in use in place, and says so in the log (an error: the next renewal
 * must not find the server still on the old certificate).
 */
function watchTlsFiles(app: FastifyInstance, files: Config['tls'], trustBundles: TrustBundles | undefined, logger: Logger): TlsReloader {
  // With the `https` option, Fastify's server is an https.Server; its type says http.Server.
  const server = files === undefined ? undefined : (app.server as HttpsServer);
  const reloader = new TlsReloader(server, files, trustBundles, (outcome) => {
    if (outcome.reloaded)
      logger.info(
        { cert: files?.certFile, spiffeTrustBundles: trustBundles?.paths },
        files === undefined ? 'SPIFFE trust bundles reloaded' : 'TLS certificate and key reloaded',
      );
    else logger.error({ file: outcome.error.file, reason: outcome.error.problem }, 'TLS files not reloaded: the ones in use stay');
  });
  app.addHook('onReady', async () => reloader.watch(TLS_WATCH_INTERVAL_MS));
  app.addHook('onClose', async () => reloader.close());
  return reloader;
}

/**
 * The app of the management port: health, readiness and the metrics, on the same services
 * as the public app. Nothing else is routed here, and nothing here faces the internet's
 * traffic, so it keeps Fastify's defaults apart from the request timeout.
 */
async function buildManagementApp(portier: Portier, logger: Logger): Promise<FastifyInstance> {
  const management = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: portier.config.protection.requestTimeoutMs,
    bodyLimit: 1024,
    routerOptions: { ignoreTrailingSlash: true },
  });
  management.decorate('portier', portier);
  management.setErrorHandler(createErrorHandler(portier.repeatedLog));
  await management.register(healthRoutes);
  await management.register(metricsRoutes);
  return management;
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
  return trustedProxies(value);
}
