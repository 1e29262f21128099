// `npm run bench`: Portier's token endpoint under load, next to the peer (node-oidc-provider).
//
// Builds Portier, starts it as `node dist/src/main.js` on a fresh PostgreSQL database and on
// a fresh PGlite directory, starts the peer from shared/bench, checks that each hands out a
// valid token, then drives them in turn (A B C A B C …) with autocannon on the loopback and
// prints a table, medians, the Portier/peer ratio and the cost of one argon2id verification.
// See bench/README.md. Everything it starts or creates is removed at the end or on Ctrl-C.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashSecret, verifySecret } from '../src/clients/secrets.js';
import { basicAuthorization, checkToken, idleMachineLoad, type LoadSettings, measure, type RunResult, stopCurrentLoad, type TokenRequestSpec } from './measure.js';
import { assertLoopback, type Child, cleanupAll, freePort, removeDirOnCleanup, runCommand } from './processes.js';
import { fixed, integer, median, Table } from './report.js';
import {
  AUDIENCE,
  committedTransactions,
  createBenchDatabase,
  portierEnv,
  preparePeer,
  setUpPortierDatabase,
  startPeer,
  startPortier,
  TOKEN_BODY,
} from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---- settings --------------------------------------------------------------------------

function numberVar(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

const ALL_TARGETS = ['portier-pg', 'peer', 'portier-pglite'] as const;
type TargetName = (typeof ALL_TARGETS)[number];

const alg = process.env.BENCH_ALG?.trim() || 'ES256';
const rounds = numberVar('BENCH_ROUNDS', 2, 1, 5);
const settings: LoadSettings = {
  warmupSeconds: numberVar('BENCH_WARMUP', 3, 0, 15),
  durationSeconds: numberVar('BENCH_DURATION', 10, 1, 15),
  connections: numberVar('BENCH_CONNECTIONS', 50, 1, 200),
};
const targetNames = (process.env.BENCH_TARGETS?.trim() || ALL_TARGETS.join(','))
  .split(',')
  .map((name) => name.trim())
  .filter((name) => name !== '') as TargetName[];
for (const name of targetNames) {
  if (!ALL_TARGETS.includes(name)) throw new Error(`BENCH_TARGETS: unknown target "${name}" (known: ${ALL_TARGETS.join(', ')})`);
}
const pgServerUrl = process.env.BENCH_PG_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
const peerDir = resolve(process.env.BENCH_PEER_DIR?.trim() || join(ROOT, '..', 'shared', 'bench'));
const cpuProfileDir = process.env.BENCH_CPU_PROF?.trim() ? resolve(process.env.BENCH_CPU_PROF.trim()) : undefined;
const skipBuild = process.env.BENCH_SKIP_BUILD === '1';

/** Whole run, set-up included; past it everything is stopped and removed. */
const DEADLINE_SECONDS = 280;
const plannedLoadSeconds = rounds * targetNames.length * (settings.warmupSeconds + settings.durationSeconds);
if (plannedLoadSeconds > 210) {
  throw new Error(`planned load time ${plannedLoadSeconds} s is too long: lower BENCH_ROUNDS, BENCH_DURATION or BENCH_TARGETS`);
}
assertLoopback(pgServerUrl);

// ---- interruption and the deadline -------------------------------------------------------

let aborting = false;
async function abort(message: string, code: number): Promise<void> {
  // Ctrl-C reaches this process more than once (from the terminal, and relayed by npm and
  // tsx): keep the handlers installed so that a repeat cannot end the process mid-cleanup.
  if (aborting) return;
  aborting = true;
  process.stderr.write(`\nbench: ${message}; stopping servers and removing temporary data…\n`);
  stopCurrentLoad();
  await cleanupAll();
  process.exit(code);
}
process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));
setTimeout(() => void abort(`deadline of ${DEADLINE_SECONDS} s reached`, 124), DEADLINE_SECONDS * 1000).unref();

const log = (line = '') => process.stdout.write(`${line}\n`);
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

// ---- argon2id ------------------------------------------------------------------------------

/** Times 20 sequential verifySecret calls (after one untimed), the cost the verification cache saves. */
async function argon2Cost(): Promise<string> {
  const secret = 'portier_cs_bench-argon2-timing-0123456789abcdefghij';
  const hash = await hashSecret(secret);
  const params = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
  await verifySecret(hash, secret);
  const times: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const started = process.hrtime.bigint();
    if (!(await verifySecret(hash, secret))) throw new Error('verifySecret refused the right secret');
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const described = params === null ? 'argon2id' : `argon2id m=${params[1]} KiB, t=${params[2]}, p=${params[3]}`;
  return (
    `${described}: one verifySecret takes ${fixed(mean, 1)} ms (mean of 20; min ${fixed(Math.min(...times), 1)}, ` +
    `max ${fixed(Math.max(...times), 1)}, median ${fixed(median(times), 1)}): without the verification cache one core ` +
    `could authenticate at most ~${integer(1000 / mean)} requests/s.`
  );
}

// ---- targets -------------------------------------------------------------------------------

interface Target {
  name: TargetName;
  child: Child;
  spec: TokenRequestSpec;
  /** PostgreSQL target only: the database, to count transactions per token. */
  databaseUrl?: string;
}

function tokenSpec(baseUrl: string, tokenPath: string, clientId: string, clientSecret: string): TokenRequestSpec {
  return {
    tokenUrl: `${baseUrl}${tokenPath}`,
    discoveryUrl: `${baseUrl}/.well-known/openid-configuration`,
    authorization: basicAuthorization(clientId, clientSecret),
    body: TOKEN_BODY,
    alg,
    audience: AUDIENCE,
  };
}

async function startTarget(name: TargetName): Promise<Target> {
  if (name === 'peer') {
    if (!['ES256', 'RS256'].includes(alg)) throw new Error(`the peer signs with ES256 or RS256 only, not ${alg}`);
    const peer = await preparePeer(peerDir);
    if ('skipped' in peer) throw new Error(peer.skipped);
    log(`  peer: ${peer.note}`);
    const started = await startPeer(peer.dir, alg, await freePort());
    return { name, child: started.child, spec: tokenSpec(started.baseUrl, '/token', started.clientId, started.clientSecret) };
  }
  const port = await freePort();
  let env: NodeJS.ProcessEnv;
  let databaseUrl: string | undefined;
  if (name === 'portier-pg') {
    databaseUrl = await createBenchDatabase(pgServerUrl);
    env = portierEnv({ port, alg, databaseUrl });
    log(`  ${name}: database ${new URL(databaseUrl).pathname.slice(1)} on ${new URL(pgServerUrl).host}`);
  } else {
    // DATA_DIR inside a folder of our own: PGlite also writes a lock file beside DATA_DIR.
    const parent = mkdtempSync(join(tmpdir(), 'portier-bench-pglite-'));
    removeDirOnCleanup(parent);
    const dataDir = join(parent, 'data');
    env = portierEnv({ port, alg, dataDir });
    log(`  ${name}: DATA_DIR ${dataDir}`);
  }
  const credentials = await setUpPortierDatabase(env);
  const portier = await startPortier(name, ROOT, env, credentials, cpuProfileDir);
  return {
    name,
    child: portier.child,
    spec: tokenSpec(portier.baseUrl, '/oauth/token', portier.clientId, portier.clientSecret),
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
  };
}

// ---- main ----------------------------------------------------------------------------------

interface Row {
  target: TargetName;
  round: number;
  result: RunResult;
  /** PostgreSQL transactions during the measured window (portier-pg only). */
  transactions?: number;
}

const table = new Table([
  { title: 'target', align: 'left' },
  { title: 'round' },
  { title: 'tokens/s' },
  { title: 'p50 ms' },
  { title: 'p99 ms' },
  { title: 'non-2xx' },
  { title: 'errors' },
  { title: 'peak RSS MB' },
  { title: 'server cores' },
  { title: 'loadgen cores' },
  { title: 'other cores' },
]);
table.fit(['portier-pglite', '', '', '', '', '', '', '', '', '', '']);

function cells(target: string, round: string, r: Pick<RunResult, 'tokensPerSecond' | 'p50' | 'p99' | 'non2xx' | 'errors' | 'timeouts' | 'peakRssMb' | 'serverCores' | 'loadgenCores' | 'otherCores'>): string[] {
  return [
    target,
    round,
    integer(r.tokensPerSecond),
    fixed(r.p50, 1),
    fixed(r.p99, 1),
    integer(r.non2xx),
    integer(r.errors + r.timeouts),
    fixed(r.peakRssMb, 1),
    fixed(r.serverCores, 2),
    fixed(r.loadgenCores, 2),
    fixed(r.otherCores, 2),
  ];
}

function gitDescription(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'drizzle'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return `${commit}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  log(`Portier token endpoint benchmark — ${new Date().toISOString()}`);
  log(
    `  node ${process.version}, ${cpus().length} cores, ${alg}, commit ${gitDescription()}; ` +
      `autocannon ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured, ` +
      `${rounds} round(s) of ${targetNames.join(', ')}`,
  );
  log(`  request: POST /token with HTTP Basic and body ${TOKEN_BODY}`);
  log();

  const argon2 = await argon2Cost();
  log(argon2);
  log();

  if (!skipBuild && targetNames.some((name) => name !== 'peer')) {
    log('building Portier (npm run build)…');
    const build = await runCommand('npm run build', 'npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 120_000 });
    if (build.code !== 0) {
      log(`build failed (exit ${build.code}):\n${build.output}`);
      return 1;
    }
  }
  if (cpuProfileDir !== undefined) mkdirSync(cpuProfileDir, { recursive: true });

  log('starting targets…');
  const targets: Target[] = [];
  const problems: string[] = [];
  for (const name of targetNames) {
    try {
      const target = await startTarget(name);
      await checkToken(target.spec);
      targets.push(target);
      log(`  ${name}: pid ${target.child.pid}, ${target.spec.tokenUrl}, first response is a valid ${alg} token`);
    } catch (error) {
      const message = `${name} skipped: ${errorText(error)}`;
      problems.push(message);
      log(`  ${message}`);
    }
  }
  if (targets.length === 0) {
    log('nothing to measure');
    return 1;
  }
  log();

  log(table.header());
  const rows: Row[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const target of targets) {
      if (target.child.hasExited()) {
        problems.push(`${target.name} exited before round ${round}: ${target.child.tail().slice(-3).join(' | ')}`);
        continue;
      }
      const { databaseUrl } = target;
      let tx0: number | undefined;
      let tx1: number | undefined;
      const hooks =
        databaseUrl === undefined
          ? {}
          : {
              beforeMeasured: async () => {
                tx0 = await committedTransactions(databaseUrl);
              },
              afterMeasured: async () => {
                tx1 = await committedTransactions(databaseUrl);
              },
            };
      const result = await measure(target.spec, target.child.pid, settings, hooks);
      const row: Row = { target: target.name, round, result };
      if (tx0 !== undefined && tx1 !== undefined) row.transactions = tx1 - tx0;
      rows.push(row);
      log(table.row(cells(target.name, String(round), result)));
      const others = Object.entries(result.statusCounts).filter(([code]) => code !== '200');
      if (others.length > 0) log(`    statuses other than 200: ${others.map(([code, n]) => `${code}×${n}`).join(', ')}`);
    }
  }

  // Medians per target, and the ratio to the peer.
  log();
  log('median per target');
  log(table.header());
  const medians = new Map<TargetName, { tokensPerSecond: number; p99: number; peakRssMb: number }>();
  for (const target of targets) {
    const mine = rows.filter((row) => row.target === target.name).map((row) => row.result);
    if (mine.length === 0) continue;
    const m = {
      tokensPerSecond: median(mine.map((r) => r.tokensPerSecond)),
      p50: median(mine.map((r) => r.p50)),
      p99: median(mine.map((r) => r.p99)),
      non2xx: median(mine.map((r) => r.non2xx)),
      errors: median(mine.map((r) => r.errors)),
      timeouts: median(mine.map((r) => r.timeouts)),
      peakRssMb: median(mine.map((r) => r.peakRssMb)),
      serverCores: median(mine.map((r) => r.serverCores)),
      loadgenCores: median(mine.map((r) => r.loadgenCores)),
      otherCores: median(mine.map((r) => r.otherCores)),
    };
    medians.set(target.name, m);
    log(table.row(cells(target.name, 'median', m)));
  }
  log();
  const peer = medians.get('peer');
  for (const name of ['portier-pg', 'portier-pglite'] as const) {
    const portier = medians.get(name);
    if (portier !== undefined && peer !== undefined) {
      log(`ratio ${name}/peer (median tokens/s): ${fixed(portier.tokensPerSecond / peer.tokensPerSecond, 2)}`);
    }
  }
  if (peer === undefined) log('ratio Portier/peer: not available, the peer was not measured');

  // The targets of the issue (ES256, PostgreSQL, this 2-core machine).
  const pgMedian = medians.get('portier-pg');
  if (pgMedian !== undefined) {
    const hwm = rows.filter((row) => row.target === 'portier-pg').reduce((max, row) => Math.max(max, row.result.hwmMb, row.result.peakRssMb), 0);
    const checks = [
      [`tokens/s ${integer(pgMedian.tokensPerSecond)} ≥ 4,000`, pgMedian.tokensPerSecond >= 4000],
      [`p99 ${fixed(pgMedian.p99, 1)} ms < 30`, pgMedian.p99 < 30],
      [`peak RSS ${fixed(hwm, 1)} MB (whole life: VmHWM or highest sample) < 200`, hwm < 200],
    ] as const;
    const verdict = checks.map(([text, ok]) => `${ok ? 'PASS' : 'MISS'} ${text}`).join('; ');
    log(`targets (portier-pg${alg === 'ES256' ? '' : `, measured with ${alg}: the targets are for ES256`}): ${verdict}`);
    const tx = rows.filter((row) => row.target === 'portier-pg' && row.transactions !== undefined);
    if (tx.length > 0) {
      const perToken = tx.map((row) => (row.transactions ?? 0) / Math.max(1, row.result.tokens));
      log(
        `portier-pg database work in the measured windows: ${tx.map((row) => integer(row.transactions ?? 0)).join(', ')} ` +
          `transactions (≈ ${fixed(median(perToken), 4)} per token; pg_stat_database, approximate; ` +
          `the cache-generation poll alone makes ~${integer(4 * settings.durationSeconds)})`,
      );
    }
  }
  for (const target of targets) {
    const hwm = rows.filter((row) => row.target === target.name).reduce((max, row) => Math.max(max, row.result.hwmMb, row.result.peakRssMb), 0);
    const lines = target.child.lineCount();
    log(
      `${target.name}: peak RSS over its whole life ${fixed(hwm, 1)} MB; printed ${lines} line(s)` +
        (lines > 0 ? `, last: ${target.child.tail().slice(-1)[0]?.slice(0, 200) ?? ''}` : ''),
    );
  }
  log(argon2);
  for (const problem of problems) log(`note: ${problem}`);
  if (cpuProfileDir !== undefined) log(`CPU profiles are written to ${cpuProfileDir} when the servers stop`);
  log(`total ${fixed((Date.now() - startedAt) / 1000, 0)} s`);
  // A Portier target that could not be measured is a failure; a skipped peer is not.
  return problems.some((problem) => problem.startsWith('portier')) ? 1 : 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  // After Ctrl-C the run under way fails as its servers go away: that is not news.
  if (!aborting) process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await cleanupAll();
}
process.exit(exitCode);
