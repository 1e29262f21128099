// The servers under load: Portier (built, run as `node dist/src/main.js`) on a fresh
// PostgreSQL database or a fresh PGlite directory, and the peer, node-oidc-provider, from
// shared/bench.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, cpSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CLI_ACTOR } from '../src/audit/events.js';
import { createClient } from '../src/clients/clients.js';
import { createService } from '../src/clients/services.js';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { prepareDatabase } from '../src/startup.js';
import {
  assertLoopback,
  type Child,
  LOOPBACK,
  onCleanup,
  removeDirOnCleanup,
  runCommand,
  startChild,
  waitForHttp,
} from './processes.js';

/** The one resource server both Portier and the peer issue tokens for (the peer's is fixed). */
export const AUDIENCE = 'https://api.example.test';
/** What every target is asked, byte for byte the same. */
export const TOKEN_BODY = new URLSearchParams({ grant_type: 'client_credentials', resource: AUDIENCE, scope: 'read' }).toString();

export interface PortierTarget {
  child: Child;
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

export function portierEnv(options: { port: number; alg: string; databaseUrl?: string; dataDir?: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Portier's variables are set by the benchmark alone, never inherited from the caller's shell.
  for (const name of CONFIG_VARIABLES) delete env[name];
  delete env.NODE_OPTIONS; // no loader of the benchmark's own (tsx) in the server
  return {
    ...env,
    PORT: String(options.port),
    HOST: LOOPBACK,
    ISSUER: `http://${LOOPBACK}:${options.port}`,
    SIGNING_ALG: options.alg,
    LOG_LEVEL: 'warn',
    // As in production: private signing keys encrypted at rest (costs nothing per request).
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ...(options.databaseUrl !== undefined ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.dataDir !== undefined ? { DATA_DIR: options.dataDir } : {}),
  };
}

/** Creates `portier_bench_<random>` on the server; it is dropped (WITH FORCE) at cleanup. */
export async function createBenchDatabase(serverUrl: string): Promise<string> {
  assertLoopback(serverUrl);
  const name = `portier_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(`drop database ${name}`, async () => {
    const dropper = new pg.Client({ connectionString: serverUrl });
    await dropper.connect();
    try {
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await dropper.end();
    }
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Transactions (each statement outside a transaction is one) of one database so far, from
 * pg_stat_database. Backends report at most once a second, so this is approximate.
 */
export async function committedTransactions(databaseUrl: string): Promise<number> {
  assertLoopback(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
    const result = await client.query<{ n: string }>(
      'SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = $1',
      [name],
    );
    return Number(result.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/**
 * Prepares the database exactly as the server will find it (same environment, so the same
 * configuration), then registers one service with two scopes and one client granted both,
 * through the project's own functions. Returns the client's credentials.
 */
export async function setUpPortierDatabase(env: NodeJS.ProcessEnv): Promise<{ clientId: string; clientSecret: string }> {
  const config = loadConfig(env);
  const database = await connectDatabase(config);
  try {
    await prepareDatabase(database, config);
    await createService(
      database.db,
      { id: 'bench-api', name: 'Bench API', description: 'Resource server of the benchmark', audience: AUDIENCE, scopes: ['read', 'write'] },
      CLI_ACTOR,
    );
    const { client, clientSecret } = await createClient(
      database.db,
      {
        client_id: 'bench-client',
        name: 'Bench client',
        owner: 'bench',
        first_name: 'Bench',
        last_name: 'Client',
        roles: ['reader'],
        grants: [{ service: 'bench-api', scopes: ['read', 'write'] }],
      },
      CLI_ACTOR,
    );
    if (clientSecret === undefined) throw new Error('createClient returned no secret');
    return { clientId: client.client_id, clientSecret };
  } finally {
    await database.close();
  }
}

export async function startPortier(
  name: string,
  root: string,
  env: NodeJS.ProcessEnv,
  credentials: { clientId: string; clientSecret: string },
  cpuProfileDir: string | undefined,
): Promise<PortierTarget> {
  const args = cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=${name}.cpuprofile`];
  const child = startChild(name, process.execPath, [...args, 'dist/src/main.js'], { cwd: root, env });
  const baseUrl = `http://${LOOPBACK}:${env.PORT}`;
  await waitForHttp(child, `${baseUrl}/readyz`, 60_000);
  return { child, baseUrl, ...credentials };
}

export interface PeerTarget {
  child: Child;
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

/** The peer's fixed credentials (peer-oidc-provider.mjs). */
const PEER_CLIENT_ID = 'bench';
const PEER_CLIENT_SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD';

function isWritable(dir: string): boolean {
  // Root may write anywhere: also honour a folder whose mode says read-only (shared/bench).
  if ((statSync(dir).mode & 0o200) === 0) return false;
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a runnable peer: the folder itself when its node_modules exists, else installs
 * its dependencies (in place if the folder is writable, else in a temporary copy removed at
 * the end). Returns the folder to run from, or why the peer is skipped.
 */
export async function preparePeer(peerDir: string): Promise<{ dir: string; note: string } | { skipped: string }> {
  const script = join(peerDir, 'peer-oidc-provider.mjs');
  if (!existsSync(script)) return { skipped: `${script} not found (set BENCH_PEER_DIR)` };
  if (existsSync(join(peerDir, 'node_modules'))) return { dir: peerDir, note: `using ${peerDir} as is` };
  let dir = peerDir;
  let note = `installed into ${peerDir}`;
  if (!isWritable(peerDir)) {
    dir = mkdtempSync(join(tmpdir(), 'portier-bench-peer-'));
    removeDirOnCleanup(dir);
    cpSync(peerDir, dir, { recursive: true, filter: (source) => !source.includes('node_modules') });
    note = `${peerDir} is read-only: installed into a temporary copy`;
  }
  const npmArgs = existsSync(join(dir, 'package-lock.json')) ? ['ci'] : ['install'];
  const started = Date.now();
  const { code, output } = await runCommand('npm (peer)', 'npm', [...npmArgs, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    timeoutMs: 180_000,
  });
  if (code !== 0) {
    const last = output.split('\n').filter((line) => line.trim() !== '').slice(-3).join(' | ');
    return { skipped: `npm ${npmArgs[0]} in ${dir} failed (exit ${code}): ${last || 'no output'}` };
  }
  return { dir, note: `${note} (npm ${npmArgs[0]}, ${((Date.now() - started) / 1000).toFixed(1)} s)` };
}

export async function startPeer(dir: string, alg: string, port: number): Promise<PeerTarget> {
  const child = startChild('peer', process.execPath, ['peer-oidc-provider.mjs'], {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: '', ALG: alg, PORT: String(port) },
  });
  const baseUrl = `http://${LOOPBACK}:${port}`;
  await waitForHttp(child, `${baseUrl}/.well-known/openid-configuration`, 30_000);
  return { child, baseUrl, clientId: PEER_CLIENT_ID, clientSecret: PEER_CLIENT_SECRET };
}
