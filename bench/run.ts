// `npm run bench`: Portier's token endpoint under load, next to the peer (node-oidc-provider)
// and the no-database ceiling, then under attack. See bench/README.md.
//
// Builds Portier, starts it as `node dist/src/main.js` on a fresh PostgreSQL database and on
// a fresh PGlite directory, starts the peer and the ceiling from ../shared/bench, checks that
// each hands out a valid token, drives them in turn (A B C D A B C D) with
// ../shared/bench/load.mjs, prints the table, the ratios and the verdict; then the attack
// table (attack.ts). Everything it starts or creates is removed at the end or on Ctrl-C.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateOpaqueSecret, hashSecret, verifySecret } from '../src/clients/secrets.js';
import { ATTACKER_ADDRESS, attackTable, FLOOD_CONNECTIONS, NEW_CLIENT_DEADLINE_S } from './attack.js';
import { connectionPatternTable } from './connections.js';
import { exchangeTable } from './exchange.js';
import { federationTable } from './federation.js';
import { lifecycleTable } from './lifecycle.js';
import { busyCores, peakRssMb, runLoad, type ScenarioTableContext } from './load.js';
import { mainTable, medianMainRow, printTargets } from './main-table.js';
import { mtlsRows } from './mtls.js';
import { policyTable, setUpPolicyClients } from './policy.js';
import { cleanupAll, freePort, removeDirOnCleanup, runCommand } from './processes.js';
import { fixed, integer, median, Table } from './report.js';
import {
  alg,
  attack,
  attacks,
  cpuProfileDir,
  DEADLINE_SECONDS,
  exchange,
  federation,
  gitDescription,
  lifecycle,
  mtls,
  patterns,
  pgServerUrl,
  policy,
  ROOT,
  rounds,
  settings,
  sharedDir,
  skipBuild,
  type TargetName,
  targetNames,
  tracing,
} from './settings.js';
import {
  type Credentials,
  checkToken,
  createBenchDatabase,
  portierEnv,
  portierSpec,
  prepareSharedBench,
  type Server,
  setUpPortierDatabase,
  startCeiling,
  startPeer,
  startPortier,
  TOKEN_BODY,
  type TokenSpec,
} from './targets.js';
import { tracingTable } from './tracing.js';

// ---- interruption and the deadline -------------------------------------------------------

let aborting = false;
async function abort(message: string, code: number): Promise<void> {
  // Ctrl-C reaches this process more than once (from the terminal, and relayed by npm and
  // tsx): keep the handlers installed so that a repeat cannot end the process mid-cleanup.
  if (aborting) return;
  aborting = true;
  process.stderr.write(`\nbench: ${message}; stopping the load, the servers and removing temporary data…\n`);
  await cleanupAll();
  process.exit(code);
}
process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));
setTimeout(() => void abort(`deadline of ${DEADLINE_SECONDS} s reached`, 124), DEADLINE_SECONDS * 1000).unref();

/** Silent once interrupted: what fails as the servers go away is not news. */
const log = (line = '') => void (aborting || process.stdout.write(`${line}\n`));
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Times 20 sequential verifySecret calls (after one untimed): what a wrong secret costs the server. */
async function argon2Cost(): Promise<string> {
  const secret = 'portier_cs_bench-argon2-timing-0123456789abcdefghij';
  const hash = await hashSecret(secret);
  const params = /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
  await verifySecret(hash, secret);
  const times: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const started = performance.now();
    await verifySecret(hash, secret);
    times.push(performance.now() - started);
  }
  const described = params === null ? 'argon2id' : `argon2id m=${params[1]} KiB, t=${params[2]}, p=${params[3]}`;
  return (
    `${described}: one verifySecret takes ${fixed(median(times), 1)} ms (median of 20, in the bench process), the CPU the server spends ` +
    `on each wrong secret or unknown client_id: ${cpus().length} cores absorb at most ~${integer((cpus().length * 1000) / median(times))} of them per second.`
  );
}

/** Samples the machine for 1 s while the bench is idle; warns when another job is running. */
async function checkIdle(before: string): Promise<void> {
  const busy = await busyCores(1_000);
  log(`machine before ${before}: ${fixed(busy, 2)} of ${cpus().length} cores busy over 1 s`);
  if (busy > 0.5) log('WARNING: the machine is already busy (> 0.5 core) before any load: the figures below are not trustworthy.');
  log();
}

// ---- main ----------------------------------------------------------------------------------

interface Target extends Server {
  name: TargetName;
  spec: TokenSpec;
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  log(`Portier token endpoint benchmark — ${new Date().toISOString()}`);
  log(
    `  node ${process.version}, ${cpus().length} cores, ${alg}, commit ${gitDescription()}; load.mjs: ${settings.connections} connections, ` +
      `${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured; ${rounds} round(s) of ${targetNames.join(', ')}` +
      (federation ? '; then the federation table on portier-pg' : '') +
      (exchange ? '; then the token exchange table on portier-pg' : '') +
      (patterns ? '; then the connection-pattern table' : '') +
      (attack ? '; then the attack table on portier-pg' : '') +
      (policy ? '; then the token policy table on portier-pg' : ''),
  );
  log(`  request: POST with HTTP Basic and the body ${TOKEN_BODY}`);
  log();
  const argon2 = await argon2Cost();
  log(argon2);
  log();

  const shared = await prepareSharedBench(sharedDir);
  log(`shared bench folder: ${shared.note}`);
  if (!skipBuild && targetNames.some((name) => name.startsWith('portier'))) {
    log('building Portier (npm run build)…');
    const build = await runCommand('npm run build', 'npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 120_000 });
    if (build.code !== 0) {
      log(`build failed (exit ${build.code}):\n${build.output}`);
      return 1;
    }
  }
  if (cpuProfileDir !== undefined) mkdirSync(cpuProfileDir, { recursive: true });
  const jsonDir = mkdtempSync(join(tmpdir(), 'portier-bench-json-'));
  removeDirOnCleanup(jsonDir);

  // The admin client of both Portier targets; the attack table creates its new clients with it.
  const admin: Credentials = { clientId: 'bench-admin', clientSecret: generateOpaqueSecret() };
  let pgEnv: NodeJS.ProcessEnv | undefined;
  let pgSetUp: Awaited<ReturnType<typeof setUpPortierDatabase>> | undefined;

  async function startTarget(name: TargetName): Promise<Target> {
    const port = await freePort();
    if (name === 'peer') return { name, ...(await startPeer(shared.dir, alg, port)) };
    if (name === 'ceiling') return { name, ...(await startCeiling(shared.dir, alg, port)) };
    let env: NodeJS.ProcessEnv;
    if (name === 'portier-pg') {
      const databaseUrl = await createBenchDatabase(pgServerUrl);
      env = portierEnv({ port, alg, admin, databaseUrl });
      log(`  ${name}: database ${new URL(databaseUrl).pathname.slice(1)} on ${new URL(pgServerUrl).host}`);
    } else {
      // DATA_DIR inside a folder of our own: PGlite also writes a lock file beside DATA_DIR.
      const parent = mkdtempSync(join(tmpdir(), 'portier-bench-pglite-'));
      removeDirOnCleanup(parent);
      env = portierEnv({ port, alg, admin, dataDir: join(parent, 'data') });
      log(`  ${name}: DATA_DIR ${env.DATA_DIR}`);
    }
    const setUp = await setUpPortierDatabase(env);
    if (name === 'portier-pg') [pgEnv, pgSetUp] = [env, setUp];
    const server = await startPortier(name, ROOT, env, cpuProfileDir);
    return { name, ...server, spec: portierSpec(server.baseUrl, setUp.legit, alg) };
  }

  log('starting targets…');
  const targets: Target[] = [];
  const problems: string[] = [];
  for (const name of targetNames) {
    try {
      const target = await startTarget(name);
      await checkToken(target.spec);
      targets.push(target);
      log(`  ${name}: pid ${target.child.pid}, ${target.spec.tokenUrl}, first answer is a valid ${alg} token`);
    } catch (error) {
      problems.push(`${name} skipped: ${errorText(error)}`);
      log(`  ${problems.at(-1)}`);
    }
  }
  if (targets.length === 0) return 1;
  log();

  await checkIdle('the first run');

  const runs = mainTable(log);
  runs.header();
  for (let round = 1; round <= rounds; round += 1) {
    for (const target of targets) {
      if (target.child.hasExited()) {
        problems.push(`${target.name} exited before round ${round}: ${target.child.tail().slice(-3).join(' | ')}`);
        continue;
      }
      const result = await runLoad(shared.dir, jsonDir, `${target.name}-${round}`, target.spec, target.child.pid, settings);
      runs.record(target.name, round, { ...result, peakRssMb: peakRssMb(target.child.pid) });
    }
  }

  log();
  log('median per target (peak RSS: the highest of the process so far, start-up included)');
  runs.header();
  const medians = runs.medians(medianMainRow);
  log();
  printTargets(medians, alg, log);
  for (const target of targets) {
    const last = target.child.tail().at(-1);
    if (target.name.startsWith('portier') && last !== undefined) log(`${target.name} printed, last: ${last.slice(0, 200)}`);
  }
  log();

  // ---- the federation table (federation.ts), on portier-pg while it still runs ----
  const pgTarget = targets.find((target) => target.name === 'portier-pg');
  if (federation && pgTarget !== undefined && !pgTarget.child.hasExited()) {
    await checkIdle('the federation table');
    problems.push(
      ...(await federationTable({
        baseUrl: pgTarget.baseUrl,
        issuer: pgTarget.baseUrl,
        serverPid: pgTarget.child.pid,
        admin,
        settings,
        rounds,
        log,
      }).catch((error: unknown) => [`federation: ${errorText(error)}`])),
    );
    log();
  }

  // ---- the token exchange table (exchange.ts), on portier-pg while it still runs ----
  if (exchange && pgTarget !== undefined && !pgTarget.child.hasExited()) {
    await checkIdle('the token exchange table');
    problems.push(
      ...(await exchangeTable({
        baseUrl: pgTarget.baseUrl,
        issuer: pgTarget.baseUrl,
        serverPid: pgTarget.child.pid,
        admin,
        settings,
        rounds,
        log,
      }).catch((error: unknown) => [`exchange: ${errorText(error)}`])),
    );
    log();
  }

  // ---- the credentials table (lifecycle.ts), on portier-pg while it still runs ----
  if (lifecycle && pgTarget !== undefined && !pgTarget.child.hasExited()) {
    await checkIdle('the credentials table');
    const { baseUrl, child } = pgTarget;
    problems.push(
      ...(await lifecycleTable({ baseUrl, issuer: baseUrl, serverPid: child.pid, admin, settings, rounds, log }).catch((error: unknown) => [
        `lifecycle: ${errorText(error)}`,
      ])),
    );
    log();
  }

  // ---- the mutual TLS rows (mtls.ts): Portier in this process with TLS, on its own PGlite ----
  if (mtls) {
    await checkIdle('the mutual TLS rows');
    log('mutual TLS rows: tls_client_auth next to client_secret_post over HTTPS, Portier and generator in this process (cores are both)');
    try {
      const table = new Table([
        { title: 'auth', align: 'left' },
        { title: 'connection', align: 'left' },
        { title: 'tokens/s' },
        { title: 'p50 ms' },
        { title: 'p99 ms' },
        { title: 'non-2xx' },
        { title: 'errors' },
        { title: 'cores' },
      ]);
      table.fit(['certificate', 'new connection']);
      log(table.header());
      for (const row of await mtlsRows(settings)) {
        log(
          table.row([
            row.auth,
            row.connection,
            integer(row.tokensPerSecond),
            fixed(row.p50, 1),
            fixed(row.p99, 1),
            integer(row.non2xx),
            integer(row.errors),
            fixed(row.serverCores, 2),
          ]),
        );
      }
    } catch (error) {
      problems.push(`mtls: ${errorText(error)}`);
    }
    log();
  }

  // ---- the connection-pattern table (connections.ts), on the targets while they still run ----
  const patternTargets = targets.filter((target) => target.name !== 'portier-pglite' && !target.child.hasExited());
  if (patterns && patternTargets.length > 0) {
    await checkIdle('the connection-pattern table');
    log(
      `connection-pattern table: ${patternTargets.map((target) => target.name).join(', ')}; ${settings.connections} loops from 127.0.1.1–16, ` +
        `${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured each; https through a TLS front process per target ` +
        '(TLS 1.3, P-256 certificate); a new connection per token: Connection: close, no TLS session resumed',
    );
    problems.push(
      ...(await connectionPatternTable({ targets: patternTargets, settings, rounds, log }).catch((error: unknown) => [
        `connection patterns: ${errorText(error)}`,
      ])),
    );
    log();
  }

  /** The attack and token policy tables: fresh portier-pg processes on `env`'s database, load.mjs for `legit`. */
  const scenarioTable = (env: NodeJS.ProcessEnv, legit: Credentials): ScenarioTableContext => ({
    startPortier: (extra = {}) => startPortier('portier-pg', ROOT, { ...env, ...extra }, cpuProfileDir),
    legit,
    alg,
    sharedDir: shared.dir,
    jsonDir,
    settings,
    rounds,
    log,
  });

  if (attack && pgEnv !== undefined && pgSetUp !== undefined) {
    const env = pgEnv;
    // The measured servers go first: the attack table has the machine (and portier-pg's port) to itself.
    for (const target of targets) await target.child.stop();
    await checkIdle('the attack table');
    log(
      `attack table: portier-pg, a fresh process per scenario on the same database; legit load from 127.0.0.1 ` +
        `(load.mjs, as above); scenarios ${attacks.join(', ')}; flooding attacker ${FLOOD_CONNECTIONS} keep-alive connections from ${ATTACKER_ADDRESS}; ` +
        `about 1 s into the measured window, a client created through the admin API asks for its first token (gives up after ${NEW_CLIENT_DEADLINE_S} s)`,
    );
    problems.push(...(await attackTable({ ...scenarioTable(env, pgSetUp.legit), victimId: pgSetUp.victimId, admin }, attacks)));
    log();
  }

  // ---- the token policy table (bench/policy.ts; BENCH_POLICY=0 skips it) ----
  if (policy && pgEnv !== undefined && pgSetUp !== undefined) {
    const env = pgEnv;
    for (const target of targets) await target.child.stop();
    const clients = await setUpPolicyClients(env);
    await checkIdle('the token policy table');
    log(
      'token policy table: portier-pg, a fresh process per scenario on the same database; load.mjs as above, from 127.0.0.1, ' +
        'for bench-client (bench-shaped in "lifetime + claims": its own lifetime and six custom claims)',
    );
    problems.push(...(await policyTable({ ...scenarioTable(env, pgSetUp.legit), clients })));
    log();
  }

  // ---- the tracing table (bench/tracing.ts; BENCH_TRACING=0 skips it) ----
  if (tracing && pgEnv !== undefined && pgSetUp !== undefined) {
    const env = pgEnv;
    for (const target of targets) await target.child.stop();
    await checkIdle('the tracing table');
    log(
      'tracing table: portier-pg, a fresh process per scenario on the same database; load.mjs as above, from 127.0.0.1; ' +
        'tracing off, then OTEL_TRACES_SAMPLER=parentbased_traceidratio with 0.01 and 1.0, exporting OTLP/HTTP protobuf to a receiver here that drops it',
    );
    problems.push(...(await tracingTable(scenarioTable(env, pgSetUp.legit))));
    log();
  }

  log(argon2);
  for (const problem of problems) log(`note: ${problem}`);
  if (cpuProfileDir !== undefined) log(`CPU profiles are written to ${cpuProfileDir} when the servers stop`);
  log(`total ${fixed((Date.now() - startedAt) / 1000, 0)} s`);
  // A Portier target that could not be measured is a failure; a skipped peer or ceiling is not.
  return problems.some((problem) => /^(portier|attack|federation|policy)/.test(problem)) ? 1 : 0;
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
