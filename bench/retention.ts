// `npm run bench:retention`: what retention costs and saves, on portier-pg (see bench/README.md).
//
// 1. Table sizes before and after a 60 s random-client_id flood (20 connections from
//    127.0.0.2, as in the attack table): how much a flood makes the database grow.
// 2. 1,000,000 audit events older than AUDIT_RETENTION_DAYS, inserted straight into the
//    database; then a fresh Portier process, which prunes at start, is driven with
//    load.mjs from its first second (1 s warm-up, 3 s measured, so that the prune covers
//    the window): the legitimate client's p99 while the prune runs, next to the same load
//    on a fresh process with nothing to prune, in turn. The prune's own duration comes from
//    the server's log line; a VACUUM after each prune keeps autovacuum out of the next run.
// 3. `portier prune` on 1,000,000 more such rows with no load: the time of the prune alone.
//
// A measurement, not a test: it takes about three minutes and needs PostgreSQL on
// postgres://postgres@127.0.0.1:5432 (BENCH_PG_URL) and ../shared/bench (load.mjs).
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateClientId } from '../src/clients/rules.js';
import { generateOpaqueSecret } from '../src/clients/secrets.js';
import { startFlood } from './attack.js';
import { busyCores, type LoadResult, type LoadSettings, runLoad } from './load.js';
import { cleanupAll, freePort, removeDirOnCleanup, runCommand, sleep } from './processes.js';
import { fixed, integer, median } from './report.js';
import {
  basicAuthorization,
  checkToken,
  createBenchDatabase,
  portierEnv,
  portierSpec,
  prepareSharedBench,
  setUpPortierDatabase,
  startPortier,
} from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pgServerUrl = process.env.BENCH_PG_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
const sharedDir = resolve(process.env.BENCH_SHARED_DIR?.trim() || join(ROOT, '..', 'shared', 'bench'));
const FLOOD_SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 60);
const OLD_ROWS = Number(process.env.BENCH_OLD_ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// A short window, so that the prune at start (a few seconds for 1 M rows) covers it.
const settings: LoadSettings = {
  warmupSeconds: 1,
  durationSeconds: Number(process.env.BENCH_DURATION ?? 3),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
};
const log = (line = '') => void process.stdout.write(`${line}\n`);

/** Rows and total size (table, indexes, TOAST) of every table of Portier's schema. */
async function tableSizes(client: pg.Client): Promise<Map<string, { rows: number; bytes: number }>> {
  const { rows } = await client.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname`,
  );
  const sizes = new Map<string, { rows: number; bytes: number }>();
  for (const row of rows) {
    const count = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${pg.escapeIdentifier(row.name)}`);
    sizes.set(row.name, { rows: Number(count.rows[0]?.n ?? 0), bytes: Number(row.bytes) });
  }
  return sizes;
}

/** Inserts `count` audit events from 400 days ago (past the default retention), in one statement. */
async function insertOldAuditEvents(client: pg.Client, count: number): Promise<number> {
  const started = performance.now();
  await client.query(
    `INSERT INTO audit_events (at, action, actor_client_id, client_id, ip, details, count)
     SELECT now() - interval '400 days' - make_interval(secs => i), 'token.denied', NULL, NULL, '127.0.0.2',
            jsonb_build_object('reason', 'unknown client', 'presented_client_id', jsonb_build_object('fingerprint', md5(i::text), 'length', 12)), 1
       FROM generate_series(1, $1::int) AS i`,
    [count],
  );
  await client.query('ANALYZE audit_events');
  return (performance.now() - started) / 1000;
}

const kb = (bytes: number) => `${integer(bytes / 1024)} kB`;

async function main(): Promise<void> {
  log(`Portier retention benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores`);
  log(`machine before the run: ${fixed(await busyCores(1000), 2)} cores busy over 1 s (a shared machine: other jobs may run)`);
  const shared = await prepareSharedBench(sharedDir);
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    const build = await runCommand('npm run build', 'npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 120_000 });
    if (build.code !== 0) throw new Error(`build failed: ${build.output}`);
  }
  const jsonDir = mkdtempSync(join(tmpdir(), 'portier-bench-retention-'));
  removeDirOnCleanup(jsonDir);

  const admin = { clientId: 'bench-admin', clientSecret: generateOpaqueSecret() };
  const databaseUrl = await createBenchDatabase(pgServerUrl);
  const port = await freePort();
  const env = { ...portierEnv({ port, alg: 'ES256', admin, databaseUrl }), LOG_LEVEL: 'info' };
  const { legit } = await setUpPortierDatabase(env);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // ---- 1. the flood ---------------------------------------------------------------------
    let server = await startPortier('portier-pg', ROOT, env, undefined);
    const spec = portierSpec(server.baseUrl, legit, 'ES256');
    await checkToken(spec);
    const before = await tableSizes(client);
    log();
    log(`1. a ${FLOOD_SECONDS} s random-client_id flood (20 connections from 127.0.0.2, a new made-up client_id and secret each request)`);
    const stop = startFlood(
      spec.tokenUrl,
      () => basicAuthorization({ clientId: generateClientId(), clientSecret: generateOpaqueSecret() }),
      FLOOD_SECONDS,
    );
    await sleep(FLOOD_SECONDS * 1000);
    const flood = await stop();
    await sleep(1500); // the throttled audit writer flushes once a second
    const outcomes = [...flood.outcomes].map(([key, n]) => `${key}×${integer(n)}`).join(' ');
    log(`   the attacker sent ${integer(flood.requests)} requests in ${fixed(flood.seconds, 1)} s; answers ${outcomes}`);
    const after = await tableSizes(client);
    log('   table                rows before → after        size before → after');
    for (const [name, size] of after) {
      const was = before.get(name) ?? { rows: 0, bytes: 0 };
      log(
        `   ${name.padEnd(20)} ${integer(was.rows).padStart(8)} → ${integer(size.rows).padEnd(10)} ${kb(was.bytes).padStart(10)} → ${kb(size.bytes)}`,
      );
    }
    await server.child.stop();

    // ---- 2. token p99 with and without a prune of 1 M rows ---------------------------------
    log();
    log(
      `2. the legitimate client's load (load.mjs, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured) ` +
        `on a fresh process, from its first second: with nothing to prune, and while it prunes ${integer(OLD_ROWS)} audit events at start; ${ROUNDS} round(s) in turn`,
    );
    const runs: Record<'without' | 'during', LoadResult[]> = { without: [], during: [] };
    const pruneSeconds: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of ['without', 'during'] as const) {
        if (kind === 'during') {
          const seconds = await insertOldAuditEvents(client, OLD_ROWS);
          log(`   round ${round}: inserted ${integer(OLD_ROWS)} audit events from 400 days ago in ${fixed(seconds, 1)} s`);
        }
        server = await startPortier('portier-pg', ROOT, env, undefined);
        const result = await runLoad(
          shared.dir,
          jsonDir,
          `retention-${kind}-${round}`,
          portierSpec(server.baseUrl, legit, 'ES256'),
          server.child.pid,
          settings,
        );
        runs[kind].push(result);
        let line = '';
        if (kind === 'during') {
          for (let waited = 0; waited < 120_000 && !line; waited += 250) {
            line = server.child.tail().find((text) => text.includes('retention: expired rows deleted')) ?? '';
            if (!line) await sleep(250);
          }
          const parsed = line ? (JSON.parse(line) as { ms: number; deleted: Record<string, number> }) : undefined;
          if (parsed !== undefined) pruneSeconds.push(parsed.ms / 1000);
          log(
            `   round ${round}, during the prune: ${integer(result.tokensPerSecond)} tokens/s, p50 ${fixed(result.p50, 1)} ms, p99 ${fixed(result.p99, 1)} ms; ` +
              `the prune took ${parsed === undefined ? '?' : fixed(parsed.ms / 1000, 1)} s (deleted ${JSON.stringify(parsed?.deleted ?? {})}); ` +
              `cores: server ${fixed(result.serverCores, 2)}, other ${fixed(result.otherCores, 2)}, steal ${fixed(result.stealCores, 2)}`,
          );
        } else {
          log(
            `   round ${round}, nothing to prune: ${integer(result.tokensPerSecond)} tokens/s, p50 ${fixed(result.p50, 1)} ms, p99 ${fixed(result.p99, 1)} ms; ` +
              `cores: server ${fixed(result.serverCores, 2)}, other ${fixed(result.otherCores, 2)}, steal ${fixed(result.stealCores, 2)}`,
          );
        }
        await server.child.stop();
        // The dead rows of the prune would keep autovacuum busy during the next baseline.
        if (kind === 'during') await client.query('VACUUM audit_events');
      }
    }
    const p99 = (kind: 'without' | 'during') => median(runs[kind].map((run) => run.p99));
    const rate = (kind: 'without' | 'during') => median(runs[kind].map((run) => run.tokensPerSecond));
    log(
      `   median: p99 ${fixed(p99('without'), 1)} ms without a prune, ${fixed(p99('during'), 1)} ms during it; ` +
        `tokens/s ${integer(rate('without'))} and ${integer(rate('during'))}; the prune took ${pruneSeconds.map((s) => fixed(s, 1)).join(', ')} s ` +
        `(the measured window: ${settings.warmupSeconds + settings.durationSeconds} s from the start)`,
    );

    // ---- 3. the prune alone ---------------------------------------------------------------------
    log();
    const seconds = await insertOldAuditEvents(client, OLD_ROWS);
    const sizeBefore = (await tableSizes(client)).get('audit_events');
    log(
      `3. portier prune on ${integer(OLD_ROWS)} audit events (inserted in ${fixed(seconds, 1)} s; audit_events ${kb(sizeBefore?.bytes ?? 0)}), no load`,
    );
    const started = performance.now();
    const prune = await runCommand('portier prune', process.execPath, ['dist/src/cli.js', 'prune'], { cwd: ROOT, env, timeoutMs: 600_000 });
    const elapsed = (performance.now() - started) / 1000;
    log(`   exit ${prune.code} in ${fixed(elapsed, 1)} s (process start included): ${prune.output.split('\n').filter(Boolean).join(' ')}`);
    const sizeAfter = (await tableSizes(client)).get('audit_events');
    log(
      `   audit_events afterwards: ${integer(sizeAfter?.rows ?? 0)} rows, ${kb(sizeAfter?.bytes ?? 0)} (the space is reused by new rows; VACUUM FULL would return it)`,
    );
  } finally {
    await client.end();
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
