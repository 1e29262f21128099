// One measured run: ../shared/bench/load.mjs (autocannon; warm-up discarded, then the
// measured window) as a child process, its JSON line read back. Plus what load.mjs does not
// measure: the server's peak memory, and how busy the machine is before we start.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertLoopback, nodeEnv, runCommand, sleep } from './processes.js';
import { type Credentials, type Server, TOKEN_BODY, type TokenSpec } from './targets.js';

export interface LoadSettings {
  warmupSeconds: number;
  durationSeconds: number;
  connections: number;
}

/** What a table of scenarios (the attack and token policy tables) needs from the run: each scenario on a fresh portier-pg. */
export interface ScenarioTableContext {
  /** Starts a fresh portier-pg process on the bench database, with these of Portier's settings besides. */
  startPortier(env?: Record<string, string>): Promise<Server>;
  /** The client load.mjs asks tokens for. */
  legit: Credentials;
  alg: string;
  sharedDir: string;
  jsonDir: string;
  settings: LoadSettings;
  /** Times each scenario runs, the scenarios in turn. */
  rounds: number;
  log(line?: string): void;
}

export interface LoadResult {
  /** 2xx answers (a token is a 200) per second of the measured window (its wall-clock length). */
  tokensPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  /** The server, all threads, during the measured window (1.00 = one core busy). */
  serverCores: number;
  /** load.mjs itself. */
  loadgenCores: number;
  /** The rest of the machine: PostgreSQL's backends, and anything unrelated. */
  otherCores: number;
  /** CPU time the hypervisor gave to other guests while this machine wanted it (/proc/stat's steal). */
  stealCores: number;
}

/** The fields of load.mjs's `--json` line that are used here. */
interface LoadJson {
  total_2xx: number;
  non2xx: number;
  errors: number;
  lat_p50_ms: number;
  lat_p99_ms: number;
  server_cores: number | null;
  loadgen_cores: number;
  machine_busy_cores: number;
  /** Counted in machine_busy_cores too. */
  machine_steal_cores: number;
  wall_s: number;
}

let runs = 0;

/** Runs load.mjs from `sharedDir` against `spec`, from 127.0.0.1; its JSON goes to `jsonDir`. */
export async function runLoad(
  sharedDir: string,
  jsonDir: string,
  label: string,
  spec: TokenSpec,
  serverPid: number,
  settings: LoadSettings,
): Promise<LoadResult> {
  assertLoopback(spec.tokenUrl);
  runs += 1;
  const jsonFile = join(jsonDir, `${runs}-${label}.jsonl`);
  // load.mjs bounds itself (≤ 15 s warm-up and measured each, ≤ 200 connections).
  const args = [
    ...['--url', spec.tokenUrl, '--body', TOKEN_BODY, '--user', spec.clientId, '--pass', spec.clientSecret],
    ...['--server-pid', String(serverPid), '--label', label, '--json', jsonFile],
    ...[
      '--warmup',
      String(settings.warmupSeconds),
      '--duration',
      String(settings.durationSeconds),
      '--connections',
      String(settings.connections),
    ],
  ];
  const timeoutMs = (settings.warmupSeconds + settings.durationSeconds + 30) * 1000;
  const { code, output } = await runCommand(`load.mjs (${label})`, process.execPath, [join(sharedDir, 'load.mjs'), ...args], {
    cwd: sharedDir,
    env: nodeEnv(),
    timeoutMs,
  });
  if (code !== 0) throw new Error(`load.mjs ended with exit code ${code}: ${output.split('\n').slice(-3).join(' | ')}`);
  const r = JSON.parse(readFileSync(jsonFile, 'utf8').trim()) as LoadJson;
  const serverCores = r.server_cores ?? 0;
  return {
    tokensPerSecond: r.total_2xx / r.wall_s,
    p50: r.lat_p50_ms,
    p99: r.lat_p99_ms,
    non2xx: r.non2xx,
    errors: r.errors,
    serverCores,
    loadgenCores: r.loadgen_cores,
    otherCores: Math.max(0, r.machine_busy_cores - r.machine_steal_cores - serverCores - r.loadgen_cores),
    stealCores: r.machine_steal_cores,
  };
}

/** The highest RSS a process ever had (VmHWM), in MB; 0 once it is gone. */
export function peakRssMb(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; total: number; cpus: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const values = (lines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - (values[3] ?? 0) - (values[4] ?? 0), total, cpus: lines.filter((line) => /^cpu\d+ /.test(line)).length };
}

/** How many cores the machine keeps busy over `ms` (idle and iowait count as not busy). */
export async function busyCores(ms: number): Promise<number> {
  const before = machineTicks();
  await sleep(ms);
  const after = machineTicks();
  return ((after.busy - before.busy) / Math.max(1, after.total - before.total)) * after.cpus;
}
