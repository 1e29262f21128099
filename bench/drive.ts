// A closed-loop token load driven from the bench process itself, for the tables whose
// requests load.mjs (autocannon) cannot make: a fresh assertion per request (federation
// table), a new TCP or TLS connection per token (connection-pattern table).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { LoadSettings } from './load.js';
import { assertLoopback, sleep } from './processes.js';
import { median } from './report.js';

/** An answer not back within this is counted as an error. */
const ANSWER_TIMEOUT_MS = 10_000;
/** /proc/<pid>/stat counts CPU in these (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

export interface DriveResult {
  tokensPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  /** The server (all threads) during the measured window; 1.00 = one core. */
  serverCores: number;
  /** Other processes watched (a TLS front, say), by pid, the same way. */
  watchedCores: number[];
  /** This process (the generator). */
  generatorCores: number;
}

export interface DriveOptions {
  /** The token endpoint (http: or https:), on the loopback. */
  tokenUrl: string;
  /** The next request's body; undefined stops that connection's loop. */
  nextBody: () => string | undefined;
  /** Sent with every request (e.g. authorization). */
  headers?: Record<string, string>;
  settings: LoadSettings;
  serverPid: number;
  /** More processes whose CPU is reported (watchedCores). */
  watchPids?: number[];
  /**
   * true: every request on a new connection (TCP, and a full TLS handshake for https:
   * no session is resumed), as a cron job or a serverless function calls.
   */
  newConnectionPerRequest?: boolean;
  /** https: the CA that signed the server's certificate. */
  ca?: string;
  /** https: a client certificate and its key (PEM), shown in every handshake (mutual TLS). */
  clientCertificate?: { cert: string; key: string };
  /**
   * Source addresses, used in turn by the connection loops: a new connection per request
   * leaves a TIME_WAIT behind, and one address would run out of ports within seconds.
   */
  localAddresses?: string[];
}

/** The median of runs, field by field (the first run's other fields kept); undefined for none. */
export function medianRun<T extends DriveResult>(runs: readonly T[]): T | undefined {
  const [first] = runs;
  if (first === undefined) return undefined;
  const row: T = { ...first, watchedCores: first.watchedCores.map((_, index) => median(runs.map((run) => run.watchedCores[index] ?? 0))) };
  for (const key of ['tokensPerSecond', 'p50', 'p99', 'non2xx', 'errors', 'serverCores', 'generatorCores'] as const) {
    row[key] = median(runs.map((run) => run[key]));
  }
  return row;
}

/** CPU ticks (user + system, all threads) of a process so far. */
export function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * `settings.connections` loops, each sending the next body as soon as the previous answer
 * is back; the warm-up is discarded, the measured window counted.
 */
export async function drive(options: DriveOptions): Promise<DriveResult> {
  const { settings } = options;
  assertLoopback(options.tokenUrl);
  const url = new URL(options.tokenUrl);
  const secure = url.protocol === 'https:';
  const fresh = options.newConnectionPerRequest === true;
  const agentOptions = { keepAlive: true, maxSockets: settings.connections, ca: options.ca, ...options.clientCertificate };
  const agent = fresh ? false : secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  let measuring = false;
  let stopping = false;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const latencies: number[] = [];

  const send = (body: string, localAddress: string | undefined) =>
    new Promise<void>((resolve) => {
      const sentAt = performance.now();
      const outgoing = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        ca: options.ca,
        ...options.clientCertificate,
        localAddress,
        timeout: ANSWER_TIMEOUT_MS,
        headers: {
          ...options.headers,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          ...(fresh ? { connection: 'close' } : {}),
        },
      });
      let counted = false;
      const count = (outcome: 'ok' | 'non2xx' | 'error') => {
        if (counted) return;
        counted = true;
        if (measuring) {
          if (outcome === 'ok') ok += 1;
          else if (outcome === 'non2xx') non2xx += 1;
          else errors += 1;
          if (outcome !== 'error') latencies.push(performance.now() - sentAt);
        }
        resolve();
      };
      outgoing.on('response', (response) => {
        response.resume();
        response.on('end', () => count(response.statusCode !== undefined && response.statusCode < 300 ? 'ok' : 'non2xx'));
      });
      outgoing.on('timeout', () => outgoing.destroy());
      outgoing.on('error', () => count('error'));
      outgoing.on('close', () => count('error'));
      outgoing.end(body);
    });

  const loop = async (index: number) => {
    const addresses = options.localAddresses ?? [];
    const localAddress = addresses.length === 0 ? undefined : addresses[index % addresses.length];
    while (!stopping) {
      const body = options.nextBody();
      if (body === undefined) return;
      await send(body, localAddress);
    }
  };
  const loops = Promise.all(Array.from({ length: settings.connections }, (_, index) => loop(index)));
  await sleep(settings.warmupSeconds * 1000);
  measuring = true;
  const pids = [options.serverPid, ...(options.watchPids ?? [])];
  const ticks0 = pids.map(processTicks);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await Promise.race([sleep(settings.durationSeconds * 1000), loops]);
  const seconds = (performance.now() - started) / 1000;
  measuring = false;
  const cores = pids.map((pid, index) => (processTicks(pid) - (ticks0[index] ?? 0)) / CLOCK_TICKS_PER_SECOND / seconds);
  const cpu = process.cpuUsage(cpu0);
  stopping = true;
  await loops;
  if (agent !== false) agent.destroy();
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return {
    tokensPerSecond: ok / seconds,
    p50: percentile(50),
    p99: percentile(99),
    non2xx,
    errors,
    serverCores: cores[0] ?? Number.NaN,
    watchedCores: cores.slice(1),
    generatorCores: (cpu.user + cpu.system) / 1e6 / seconds,
  };
}
