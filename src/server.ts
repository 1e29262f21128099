import { setFlagsFromString } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { type Config, ConfigError, loadConfig } from './config.js';
import type { Database } from './db/connect.js';
import { TracingSettingError, tracingSettings } from './tracing/settings.js';
import type { Tracing } from './tracing/start.js';

/**
 * The server process: configuration → database → preparation (prepare.ts) → the app
 * (app.ts) → listen, and back down again on SIGTERM. What a request meets is in app.ts.
 */

/** Prints one line and stops: how every start-up failure ends. */
function exitWithError(message: string): never {
  process.stderr.write(`portier: ${message}\n`);
  process.exit(1);
}

/** Reads the configuration, or stops with one line naming the bad variable. */
function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) exitWithError(`configuration error: ${error.message}`);
    throw error;
  }
}

/**
 * Starts OpenTelemetry tracing when its variables ask for it (tracing/settings.ts), or stops
 * with one line naming the bad variable. Off: nothing of OpenTelemetry is loaded.
 */
async function startTracingOrExit(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  let settings: ReturnType<typeof tracingSettings>;
  try {
    settings = tracingSettings(env);
  } catch (error) {
    if (error instanceof TracingSettingError) exitWithError(`configuration error: ${error.message}`);
    throw error;
  }
  if (settings === undefined) return undefined;
  const { startTracing } = await import('./tracing/start.js');
  return startTracing(settings);
}

/** Opens the database named by the configuration, or stops with one line. */
async function openDatabaseOrExit(config: Config): Promise<Database> {
  const { connectDatabase } = await import('./db/connect.js');
  try {
    return await connectDatabase(config);
  } catch (error) {
    exitWithError(`cannot open the database: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Where the management port listens (`host:port`), or undefined without one. */
function managementAddress(app: FastifyInstance): string | undefined {
  const address = app.management?.server.address();
  if (address === undefined || address === null || typeof address === 'string') return undefined;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/**
 * Turns off V8's allocation-site pretenuring for the server process. With it, V8 starts
 * allocating an object straight into the old generation once most objects from the same
 * place in the code have outlived a young collection. A connection's objects live long and a
 * request's die young, but both are built by the same stream and event-emitter constructors:
 * once connections come and stay in numbers (a slow-connection attack, or only thousands of
 * idle keep-alive clients), every request's objects land in the old generation, drag their
 * young parts along, and the old generation fills at tens of MB/s. Measured on the token
 * endpoint with 5,900 idle connections held: 1.2 MB promoted per young collection instead of
 * 0.16 MB, and 0.78 of the throughput alone instead of 0.87. bench/README.md has the figures.
 */
function tuneGarbageCollector(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

/** `portier serve` / `npm start`. SIGTERM and SIGINT drain in-flight requests, then exit 0. */
export async function start(): Promise<void> {
  tuneGarbageCollector();
  const config = loadConfigOrExit();
  // Before the app is loaded: tracing hooks into the modules as they load (tracing/start.ts).
  const tracing = await startTracingOrExit();
  // The rest of Portier is loaded once the configuration is known to be good: a bad value
  // stops the start in a fraction of a second, before hundreds of modules are read.
  const [{ createLogger }, { prepareDatabase }, { buildApp }, { IssuerMismatchError }, { KeyUnavailableError }] = await Promise.all([
    import('./logger.js'),
    import('./prepare.js'),
    import('./app.js'),
    import('./services/services.js'),
    import('./keys/signing-keys.js'),
  ]);
  const log = createLogger(config.logLevel);
  const database = await openDatabaseOrExit(config);
  let app: FastifyInstance;
  try {
    await prepareDatabase(database, config, log);
    app = await buildApp({ config, database, logger: log });
    await app.listen({ port: config.port, host: config.host });
    if (app.management !== undefined && config.management !== undefined) {
      await app.management.listen({ port: config.management.port, host: config.management.host });
    }
  } catch (error) {
    await database.close().catch(() => {});
    if (error instanceof KeyUnavailableError || error instanceof IssuerMismatchError) exitWithError(error.message);
    exitWithError(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
  }
  log.info(
    { issuer: config.issuer, database: database.driver, alg: config.signingAlg, management: managementAddress(app) },
    'portier is ready',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining in-flight requests');
    // Fastify stops accepting connections, answers requests under way, then runs onClose
    // (which writes pending last_used_at and audit rows) before we close the database.
    // A keep-alive connection that was busy when the server closed goes idle once its
    // response is sent; Node would hold it (and so the exit) until keepAliveTimeout (65 s).
    // Close such connections as soon as they are idle.
    const closeIdle = setInterval(() => {
      app.server.closeIdleConnections();
      app.management?.server.closeIdleConnections();
    }, 100);
    await app.close();
    clearInterval(closeIdle);
    await database.close();
    // The spans of the last requests go out before the process does.
    await tracing?.shutdown().catch((error: unknown) => log.warn({ err: error }, 'tracing: the last spans could not be exported'));
    log.info('stopped');
    process.exit(0);
  };
  // The TLS certificate and key (and client CAs, SPIFFE trust bundles) read again, for new connections: how a
  // renewal is taken up without a restart (the files are also watched, see app.ts).
  if (app.tls !== undefined) {
    const { tls } = app;
    process.on('SIGHUP', () => tls.reload());
  }
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
