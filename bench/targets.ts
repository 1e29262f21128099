// The servers under load: Portier (built, run as `node dist/src/main.js`) on a fresh
// PostgreSQL database or a fresh PGlite directory, and from ../shared/bench the peer
// (node-oidc-provider) and the no-database ceiling (Fastify + jose). Also: the token check.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, cpSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import pg from 'pg';
import type { Actor } from '../src/audit/events.js';
import { createClient } from '../src/clients/clients.js';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { prepareDatabase } from '../src/prepare.js';
import { createService } from '../src/services/services.js';
import {
  assertLoopback,
  type Child,
  LOOPBACK,
  nodeEnv,
  onCleanup,
  removeDirOnCleanup,
  runCommand,
  startChild,
  waitForHttp,
} from './processes.js';

/** Who the audit trail names for the clients and services a bench sets up. */
const BENCH_ACTOR: Actor = { clientId: 'bench', sub: null };

/** The one resource server every target issues tokens for (the peer's and the ceiling's is fixed). */
export const AUDIENCE = 'https://api.example.test';
/** What every target is asked, byte for byte the same. */
export const TOKEN_BODY = new URLSearchParams({ grant_type: 'client_credentials', resource: AUDIENCE, scope: 'read' }).toString();

export interface Credentials {
  clientId: string;
  clientSecret: string;
}

/** How to ask one target for a token. */
export interface TokenSpec extends Credentials {
  tokenUrl: string;
  /** Where the signing keys are announced; undefined for the ceiling, which publishes none. */
  discoveryUrl: string | undefined;
  alg: string;
}

export interface Server {
  child: Child;
  baseUrl: string;
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, join with ':', base64. */
export function basicAuthorization({ clientId, clientSecret }: Credentials): string {
  const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

// ---- ../shared/bench -------------------------------------------------------------------

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
 * The shared bench folder, ready to run (load.mjs, the peer and the ceiling need its
 * node_modules): as is when node_modules exists, else after `npm ci` in place when the
 * folder is writable, or in a temporary copy (removed at the end) when it is not.
 */
export async function prepareSharedBench(sharedDir: string): Promise<{ dir: string; note: string }> {
  for (const file of ['load.mjs', 'peer-oidc-provider.mjs', 'ceiling-fastify.mjs']) {
    if (!existsSync(join(sharedDir, file))) throw new Error(`${join(sharedDir, file)} not found (set BENCH_SHARED_DIR)`);
  }
  if (existsSync(join(sharedDir, 'node_modules'))) return { dir: sharedDir, note: `${sharedDir}, as is` };
  let dir = sharedDir;
  let note = `${sharedDir}: npm ci in place`;
  if (!isWritable(sharedDir)) {
    dir = mkdtempSync(join(tmpdir(), 'portier-bench-shared-'));
    removeDirOnCleanup(dir);
    cpSync(sharedDir, dir, { recursive: true, filter: (source) => !source.includes('node_modules') });
    note = `${sharedDir} is read-only: npm ci in a temporary copy`;
  }
  const npmArgs = existsSync(join(dir, 'package-lock.json')) ? ['ci'] : ['install'];
  const started = Date.now();
  const { code, output } = await runCommand('npm (shared/bench)', 'npm', [...npmArgs, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    timeoutMs: 180_000,
  });
  if (code !== 0) throw new Error(`npm ${npmArgs[0]} in ${dir} failed (exit ${code}): ${output.split('\n').slice(-3).join(' | ')}`);
  return { dir, note: `${note} (${((Date.now() - started) / 1000).toFixed(1)} s)` };
}

/** The fixed client of both peer-oidc-provider.mjs and ceiling-fastify.mjs. */
const SHARED_CLIENT: Credentials = { clientId: 'bench', clientSecret: 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD' };

export async function startPeer(sharedDir: string, alg: string, port: number): Promise<Server & { spec: TokenSpec }> {
  if (!['ES256', 'RS256'].includes(alg)) throw new Error(`the peer signs with ES256 or RS256 only, not ${alg}`);
  const child = startChild('peer', process.execPath, ['peer-oidc-provider.mjs'], {
    cwd: sharedDir,
    env: nodeEnv({ ALG: alg, PORT: String(port) }),
  });
  const baseUrl = `http://${LOOPBACK}:${port}`;
  await waitForHttp(child, `${baseUrl}/.well-known/openid-configuration`, 30_000);
  return {
    child,
    baseUrl,
    spec: { ...SHARED_CLIENT, tokenUrl: `${baseUrl}/token`, discoveryUrl: `${baseUrl}/.well-known/openid-configuration`, alg },
  };
}

export async function startCeiling(sharedDir: string, alg: string, port: number): Promise<Server & { spec: TokenSpec }> {
  const env = nodeEnv({ ALG: alg, PORT: String(port), SIGNER: 'jose' });
  delete env.PG; // no /token-pg route, no database
  const child = startChild('ceiling', process.execPath, ['ceiling-fastify.mjs'], { cwd: sharedDir, env });
  const baseUrl = `http://${LOOPBACK}:${port}`;
  await waitForHttp(child, `${baseUrl}/hello`, 30_000, { method: 'POST' });
  return { child, baseUrl, spec: { ...SHARED_CLIENT, tokenUrl: `${baseUrl}/token-min`, discoveryUrl: undefined, alg } };
}

// ---- Portier -------------------------------------------------------------------------------

export function portierEnv(options: {
  port: number;
  alg: string;
  admin: Credentials;
  databaseUrl?: string;
  dataDir?: string;
}): NodeJS.ProcessEnv {
  const env = nodeEnv();
  // Portier's variables are set by the benchmark alone, never inherited from the caller's shell.
  for (const name of CONFIG_VARIABLES) delete env[name];
  return {
    ...env,
    PORT: String(options.port),
    HOST: LOOPBACK,
    ISSUER: `http://${LOOPBACK}:${options.port}`,
    SIGNING_ALG: options.alg,
    LOG_LEVEL: 'warn',
    // The credentials table subscribes webhooks on a loopback receiver (nothing per token request).
    WEBHOOK_ALLOW_PRIVATE: 'true',
    // As in production: private signing keys encrypted at rest (costs nothing per request).
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    BOOTSTRAP_ADMIN_CLIENT_ID: options.admin.clientId,
    BOOTSTRAP_ADMIN_CLIENT_SECRET: options.admin.clientSecret,
    ...(options.databaseUrl !== undefined ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.dataDir !== undefined ? { DATA_DIR: options.dataDir } : {}),
    ...portierOverrides(process.env.BENCH_PORTIER_ENV),
  };
}

/**
 * BENCH_PORTIER_ENV: `NAME=value` pairs separated by spaces, Portier settings to try out
 * (say `ARGON2_CONCURRENCY=1 AUTH_FAILURES_PER_ADDRESS=20`). Only Portier's own variables.
 */
export function portierOverrides(spec: string | undefined): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const pair of spec?.trim().split(/\s+/).filter(Boolean) ?? []) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    if (equals < 0 || !(CONFIG_VARIABLES as readonly string[]).includes(name)) {
      throw new Error(`BENCH_PORTIER_ENV: "${pair}" is not NAME=value with one of Portier's variables`);
    }
    overrides[name] = pair.slice(equals + 1);
  }
  return overrides;
}

/** Creates `portier_bench_<random>` on the server; it is dropped (WITH FORCE) at cleanup. */
export async function createBenchDatabase(serverUrl: string): Promise<string> {
  assertLoopback(serverUrl);
  const name = `portier_bench_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  onCleanup(`drop database ${name}`, () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Prepares the database exactly as the server will find it (same environment, so the same
 * configuration, bootstrap admin included), then registers with the project's own
 * functions one service (scopes read, write) and two clients granted it: `bench-client`,
 * which asks for the tokens, and `bench-victim`, whose client_id the wrong-secret flood uses.
 */
export async function setUpPortierDatabase(env: NodeJS.ProcessEnv): Promise<{ legit: Credentials; victimId: string }> {
  const config = loadConfig(env);
  const database = await connectDatabase(config);
  try {
    await prepareDatabase(database, config);
    const { db } = database;
    await createService(
      db,
      {
        id: 'bench-api',
        name: 'Bench API',
        description: 'Resource server of the benchmark',
        audience: AUDIENCE,
        scopes: ['read', 'write'],
      },
      BENCH_ACTOR,
    );
    // The names and role end up in every token (a realistic size to sign).
    const register = (clientId: string) =>
      createClient(
        db,
        {
          client_id: clientId,
          name: clientId,
          owner: 'bench',
          first_name: 'Bench',
          last_name: 'Client',
          roles: ['reader'],
          grants: [{ service: 'bench-api', scopes: ['read', 'write'] }],
        },
        BENCH_ACTOR,
        { now: Date.now() },
      );
    const { client, clientSecret } = await register('bench-client');
    const victim = await register('bench-victim');
    if (clientSecret === undefined) throw new Error('createClient returned no secret');
    return { legit: { clientId: client.client_id, clientSecret }, victimId: victim.client.client_id };
  } finally {
    await database.close();
  }
}

/** How to ask a Portier at `baseUrl` for a token. */
export function portierSpec(baseUrl: string, credentials: Credentials, alg: string): TokenSpec {
  return { ...credentials, tokenUrl: `${baseUrl}/oauth/token`, discoveryUrl: `${baseUrl}/.well-known/openid-configuration`, alg };
}

/** Starts `node dist/src/main.js` (optionally with --cpu-prof) and waits for /readyz. */
export async function startPortier(name: string, root: string, env: NodeJS.ProcessEnv, cpuProfileDir: string | undefined): Promise<Server> {
  const profile =
    cpuProfileDir === undefined
      ? []
      : // A folder per start, with Node's default file names (pid and thread id in them).
        ['--cpu-prof', `--cpu-prof-dir=${join(cpuProfileDir, `${name}-${Date.now()}`)}`];
  const child = startChild(name, process.execPath, [...profile, 'dist/src/main.js'], { cwd: root, env });
  const baseUrl = `http://${LOOPBACK}:${env.PORT}`;
  await waitForHttp(child, `${baseUrl}/readyz`, 60_000);
  return { child, baseUrl };
}

// ---- the token check -------------------------------------------------------------------

/** One token request with `spec`'s client credentials (HTTP Basic) and the bench's body: its status and body text. */
export async function requestToken(
  spec: Pick<TokenSpec, 'tokenUrl' | 'clientId' | 'clientSecret'>,
): Promise<{ status: number; text: string }> {
  assertLoopback(spec.tokenUrl);
  const response = await fetch(spec.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(spec) },
    body: TOKEN_BODY,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, text: await response.text() };
}

/**
 * Asks for one token and checks that it really is one: 200, the RFC 6749 §5.1 shape, a JWT
 * of the expected algorithm and audience; when the target announces its keys (Portier, the
 * peer), the signature must verify against its own JWKS. Throws with the reason.
 */
export async function checkToken(spec: TokenSpec): Promise<void> {
  const { status, text } = await requestToken(spec);
  if (status !== 200) throw new Error(`token request answered ${status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
  if (typeof body.access_token !== 'string') throw new Error(`no access_token in ${text.slice(0, 300)}`);
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer')
    throw new Error(`token_type ${String(body.token_type)}, not Bearer`);
  if (typeof body.expires_in !== 'number') throw new Error('expires_in is missing');
  const header = decodeProtectedHeader(body.access_token);
  if (header.alg !== spec.alg) throw new Error(`token is signed with ${header.alg}, expected ${spec.alg}`);
  if (spec.discoveryUrl === undefined) {
    const claims = decodeJwt(body.access_token);
    if (claims.aud !== AUDIENCE || typeof claims.exp !== 'number') throw new Error('token has the wrong audience or no exp');
    return;
  }
  assertLoopback(spec.discoveryUrl);
  const discovery = (await (await fetch(spec.discoveryUrl, { signal: AbortSignal.timeout(5_000) })).json()) as { jwks_uri?: string };
  if (typeof discovery.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
  // The issuer may advertise another loopback name (localhost): fetch the JWKS from the address we use.
  const jwksUrl = new URL(new URL(discovery.jwks_uri).pathname, spec.discoveryUrl).toString();
  const jwks = (await (await fetch(jwksUrl, { signal: AbortSignal.timeout(5_000) })).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { audience: AUDIENCE });
  if (typeof payload.exp !== 'number') throw new Error('token has no exp');
}

/** The admin API at `baseUrl`, with a token of the bench's admin client: POSTs (201) and PATCHes (200) that answer JSON. */
export async function adminApi(baseUrl: string, issuer: string, admin: Credentials) {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basicAuthorization(admin), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin:write', resource: `${issuer}/admin` }),
  });
  if (response.status !== 200) throw new Error(`admin token: ${response.status} ${await response.text()}`);
  const { access_token: token } = (await response.json()) as { access_token: string };
  // POST expects 201 (created), PATCH 200.
  return async (path: string, body: unknown, method: 'POST' | 'PATCH' = 'POST'): Promise<Record<string, unknown>> => {
    const answer = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (answer.status !== (method === 'POST' ? 201 : 200)) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
    return (await answer.json()) as Record<string, unknown>;
  };
}
