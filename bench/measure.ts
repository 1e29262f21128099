// One measured run against one target: a token check, then autocannon with the settings of
// shared/bench/load.mjs (3 s warm-up, discarded; 10 s measured; 50 connections; pipelining
// 1), while the server's memory is sampled every 100 ms and its CPU time is read around the
// measured window.
import { readFileSync } from 'node:fs';
import autocannon, { type Result, type Tracker } from 'autocannon';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { assertLoopback } from './processes.js';

export interface LoadSettings {
  warmupSeconds: number;
  durationSeconds: number;
  connections: number;
}

/** What a target is asked, the same way on every round. */
export interface TokenRequestSpec {
  tokenUrl: string;
  discoveryUrl: string;
  authorization: string;
  body: string;
  /** The token's expected signing algorithm and audience. */
  alg: string;
  audience: string;
}

export interface RunResult {
  tokensPerSecond: number;
  tokens: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Highest VmRSS sampled during warm-up and measured run, MB. */
  peakRssMb: number;
  /** The process's VmHWM (lifetime high-water mark) after the run, MB. */
  hwmMb: number;
  /** Server CPU during the measured window, in cores (1.00 = one core busy; all threads). */
  serverCores: number;
  /** The load generator (this process) during the measured window, in cores. */
  loadgenCores: number;
  /**
   * Everything else busy on the machine during the measured window, in cores: the machine
   * less the server and the load generator. PostgreSQL's backends count here; so does any
   * unrelated work, which makes the row less trustworthy.
   */
  otherCores: number;
  statusCounts: Record<string, number>;
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, join with ':', base64. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

function requestHeaders(spec: TokenRequestSpec): Record<string, string> {
  return { 'content-type': 'application/x-www-form-urlencoded', authorization: spec.authorization };
}

/**
 * Asks for one token and checks that it really is one: 200, the RFC 6749 §5.1 shape, and a
 * JWT of the expected algorithm and audience whose signature verifies against the
 * target's own JWKS (found through its discovery document). Throws with the reason.
 */
export async function checkToken(spec: TokenRequestSpec): Promise<void> {
  assertLoopback(spec.tokenUrl);
  assertLoopback(spec.discoveryUrl);
  const response = await fetch(spec.tokenUrl, {
    method: 'POST',
    headers: requestHeaders(spec),
    body: spec.body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`token request answered ${response.status}: ${text.slice(0, 300)}`);
  let body: { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`token response is not JSON: ${text.slice(0, 300)}`);
  }
  if (typeof body.access_token !== 'string') throw new Error(`no access_token in ${text.slice(0, 300)}`);
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') {
    throw new Error(`token_type is ${JSON.stringify(body.token_type)}, not Bearer`);
  }
  if (typeof body.expires_in !== 'number') throw new Error('expires_in is missing');
  const header = decodeProtectedHeader(body.access_token);
  if (header.alg !== spec.alg) throw new Error(`token is signed with ${header.alg}, expected ${spec.alg}`);

  const discovery = (await (await fetch(spec.discoveryUrl, { signal: AbortSignal.timeout(5_000) })).json()) as { jwks_uri?: string };
  if (typeof discovery.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
  // The issuer may advertise another loopback name (localhost): fetch the JWKS from the address we use.
  const jwksUrl = new URL(new URL(discovery.jwks_uri).pathname, spec.discoveryUrl).toString();
  const jwks = (await (await fetch(jwksUrl, { signal: AbortSignal.timeout(5_000) })).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { audience: spec.audience });
  if (typeof payload.exp !== 'number') throw new Error('token has no exp');
}

const KB_PER_MB = 1024; // /proc reports kB

/** Samples VmRSS of a process every 100 ms; keeps the highest value seen. */
export class RssSampler {
  private peakKb = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  stop(): { peakRssMb: number; hwmMb: number } {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sample();
    return { peakRssMb: this.peakKb / KB_PER_MB, hwmMb: readStatusKb(this.pid, 'VmHWM') / KB_PER_MB };
  }

  private sample(): void {
    this.peakKb = Math.max(this.peakKb, readStatusKb(this.pid, 'VmRSS'));
  }
}

function readStatusKb(pid: number, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match?.[1] === undefined ? 0 : Number(match[1]);
  } catch {
    return 0; // the process is gone
  }
}

const CLK_TCK = 100; // Linux default (getconf CLK_TCK)

/** utime + stime of a process (all its threads), in clock ticks. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function machineTicks(): { idle: number; total: number; cpus: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const values = (lines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const cpus = lines.filter((line) => /^cpu\d+ /.test(line)).length;
  return { idle: (values[3] ?? 0) + (values[4] ?? 0), total: values.reduce((a, b) => a + b, 0), cpus };
}

function machineBusyCores(before: ReturnType<typeof machineTicks>, after: ReturnType<typeof machineTicks>): number {
  return (1 - (after.idle - before.idle) / Math.max(1, after.total - before.total)) * after.cpus;
}

/** How many cores the machine keeps busy over `ms` while the benchmark itself is idle. */
export async function idleMachineLoad(ms = 1_000): Promise<number> {
  const before = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return machineBusyCores(before, machineTicks());
}

/** The autocannon run currently under way, so Ctrl-C can stop it. */
let current: Tracker | undefined;

export function stopCurrentLoad(): void {
  current?.stop();
}

function load(spec: TokenRequestSpec, connections: number, seconds: number): Promise<Result> {
  assertLoopback(spec.tokenUrl);
  return new Promise((resolve, reject) => {
    current = autocannon(
      {
        url: spec.tokenUrl,
        method: 'POST',
        headers: requestHeaders(spec),
        body: spec.body,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (error, result) => {
        current = undefined;
        if (error) reject(error);
        else resolve(result);
      },
    );
  });
}

/** Warm-up (discarded), then the measured run; `serverPid` is sampled for memory and CPU. */
export async function measure(
  spec: TokenRequestSpec,
  serverPid: number,
  settings: LoadSettings,
  /** Called right before and right after the measured window (not the warm-up). */
  hooks: { beforeMeasured?: () => Promise<void>; afterMeasured?: () => Promise<void> } = {},
): Promise<RunResult> {
  const rss = new RssSampler(serverPid);
  rss.start();
  try {
    if (settings.warmupSeconds > 0) await load(spec, settings.connections, settings.warmupSeconds);
    await hooks.beforeMeasured?.();
    const server0 = processTicks(serverPid);
    const machine0 = machineTicks();
    const loadgen0 = process.cpuUsage();
    const started = process.hrtime.bigint();
    const result = await load(spec, settings.connections, settings.durationSeconds);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const loadgen = process.cpuUsage(loadgen0);
    const server1 = processTicks(serverPid);
    const machine1 = machineTicks();
    const memory = rss.stop();
    await hooks.afterMeasured?.();
    const statusCounts = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stats]) => [code, stats.count]));
    // Only 200s are tokens; autocannon's own duration is the measured window.
    const tokens = statusCounts['200'] ?? 0;
    const duration = result.duration > 0 ? result.duration : wall;
    const serverCores = (server1 - server0) / CLK_TCK / wall;
    const loadgenCores = (loadgen.user + loadgen.system) / 1e6 / wall;
    const machineCores = machineBusyCores(machine0, machine1);
    return {
      tokensPerSecond: tokens / duration,
      tokens,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      peakRssMb: memory.peakRssMb,
      hwmMb: memory.hwmMb,
      serverCores,
      loadgenCores,
      otherCores: Math.max(0, machineCores - serverCores - loadgenCores),
      statusCounts,
    };
  } finally {
    rss.stop();
  }
}
