// The connection-pattern table: the targets asked for tokens the way most machine clients
// really call, not over 50 warm keep-alive connections: a cron job or a serverless
// function opens a new connection (often a new TLS connection) for every token. Rows per
// pattern and target, on the running targets; tokens/s and the CPU each token costs.
//
// TLS is terminated for every target alike by bench/tls-front.ts, a child process in front
// of each (the peer and the ceiling cannot serve HTTPS themselves), with a certificate made
// for the run by openssl; its CPU is reported apart from the target's.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { type DriveResult, drive, medianRun } from './drive.js';
import type { LoadSettings } from './load.js';
import { type Child, freePort, LOOPBACK, nodeEnv, removeDirOnCleanup, runCommand, sleep, startChild } from './processes.js';
import { fixed, integer, Table } from './report.js';
import { basicAuthorization, TOKEN_BODY, type TokenSpec } from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Source addresses of the driver's connection loops (see DriveOptions.localAddresses). */
const DRIVER_SOURCES = Array.from({ length: 16 }, (_, index) => `127.0.1.${index + 1}`);
/** The goal of each pattern: Portier on PostgreSQL against the peer. */
const LEAST_VS_PEER = 2;

const PATTERNS = [
  { name: 'http, new connection per token', secure: false, fresh: true },
  { name: 'https, keep-alive', secure: true, fresh: false },
  { name: 'https, new TLS connection per token', secure: true, fresh: true },
] as const;
type PatternName = (typeof PATTERNS)[number]['name'];

/** A target as the table needs it: its token request, and the process whose CPU is its own. */
export interface PatternTarget {
  name: string;
  spec: TokenSpec;
  child: Child;
}

interface Fronted extends PatternTarget {
  /** The same token URL through the TLS front. */
  httpsUrl: string;
  front: Child;
}

/** A self-signed P-256 certificate for 127.0.0.1, made by openssl in a folder removed at cleanup. */
async function makeCertificate(): Promise<{ certFile: string; keyFile: string; pem: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'portier-bench-tls-'));
  removeDirOnCleanup(dir);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  args.push('-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile);
  const made = await runCommand('openssl', 'openssl', args, { timeoutMs: 30_000 });
  if (made.code !== 0) throw new Error(`openssl could not make the bench certificate: ${made.output}`);
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}

/** Resolves once a TLS handshake with the front succeeds. */
async function waitForTls(child: Child, port: number, ca: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.hasExited()) throw new Error(`${child.name} exited during start-up: ${child.tail().join(' | ')}`);
    const ok = await new Promise<boolean>((done) => {
      const socket = tls.connect({ host: LOOPBACK, port, ca }, () => {
        socket.end();
        done(true);
      });
      socket.on('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${child.name} did not accept TLS within 15 s`);
    await sleep(100);
  }
}

async function startFront(target: PatternTarget, certificate: { certFile: string; keyFile: string; pem: string }): Promise<Fronted> {
  const url = new URL(target.spec.tokenUrl);
  const port = await freePort();
  const front = startChild(
    `${target.name} tls front`,
    process.execPath,
    ['--import', 'tsx', 'bench/tls-front.ts', certificate.certFile, certificate.keyFile, String(port), url.port],
    { cwd: ROOT, env: nodeEnv() },
  );
  await waitForTls(front, port, certificate.pem);
  return { ...target, front, httpsUrl: `https://${LOOPBACK}:${port}${url.pathname}` };
}

/**
 * Drives every pattern against every target, `rounds` times, target after target; prints
 * a row per run, the medians, the CPU per token, and the verdict per pattern (Portier on
 * PostgreSQL at least LEAST_VS_PEER × the peer). Returns the problems met.
 */
export async function connectionPatternTable(options: {
  targets: PatternTarget[];
  settings: LoadSettings;
  rounds: number;
  log: (line?: string) => void;
}): Promise<string[]> {
  const { settings, rounds, log } = options;
  const certificate = await makeCertificate();
  const fronted: Fronted[] = [];
  for (const target of options.targets) fronted.push(await startFront(target, certificate));
  const table = new Table([
    { title: 'pattern', align: 'left' },
    { title: 'target', align: 'left' },
    { title: 'round' },
    { title: 'tokens/s' },
    { title: 'p99 ms' },
    { title: 'non-2xx+err' },
    { title: 'server cores' },
    { title: 'tls front cores' },
    { title: 'driver cores' },
    { title: 'server ms/token' },
    { title: 'with tls ms/token' },
  ]);
  table.fit(['https, new TLS connection per token', 'portier-pglite', 'median']);
  const cells = (pattern: string, target: string, round: string, run: DriveResult) => {
    const front = run.watchedCores[0] ?? 0;
    return [
      pattern,
      target,
      round,
      integer(run.tokensPerSecond),
      fixed(run.p99, 1),
      integer(run.non2xx + run.errors),
      fixed(run.serverCores, 2),
      fixed(front, 2),
      fixed(run.generatorCores, 2),
      fixed((run.serverCores / run.tokensPerSecond) * 1000, 3),
      fixed(((run.serverCores + front) / run.tokensPerSecond) * 1000, 3),
    ];
  };
  log(table.header());
  const runs = new Map<string, DriveResult[]>();
  const key = (pattern: PatternName, target: string) => `${pattern}\n${target}`;
  const problems: string[] = [];
  for (const pattern of PATTERNS) {
    for (let round = 1; round <= rounds; round += 1) {
      for (const target of fronted) {
        const run = await drive({
          tokenUrl: pattern.secure ? target.httpsUrl : target.spec.tokenUrl,
          nextBody: () => TOKEN_BODY,
          headers: { authorization: basicAuthorization(target.spec) },
          settings,
          serverPid: target.child.pid,
          watchPids: pattern.secure ? [target.front.pid] : [],
          newConnectionPerRequest: pattern.fresh,
          ca: certificate.pem,
          localAddresses: DRIVER_SOURCES,
        });
        runs.set(key(pattern.name, target.name), [...(runs.get(key(pattern.name, target.name)) ?? []), run]);
        log(table.row(cells(pattern.name, target.name, String(round), run)));
        if (run.tokensPerSecond === 0) problems.push(`connection patterns: ${target.name} gave no token (${pattern.name})`);
      }
    }
  }
  log();
  log(`median per pattern and target over ${rounds} round(s)`);
  log(table.header());
  const verdicts: string[] = [];
  for (const pattern of PATTERNS) {
    const medians = new Map<string, DriveResult>();
    for (const target of fronted) {
      const row = medianRun(runs.get(key(pattern.name, target.name)) ?? []);
      if (row === undefined) continue;
      medians.set(target.name, row);
      log(table.row(cells(pattern.name, target.name, 'median', row)));
    }
    const portier = medians.get('portier-pg');
    const peer = medians.get('peer');
    if (portier !== undefined && peer !== undefined) {
      const ratio = portier.tokensPerSecond / peer.tokensPerSecond;
      const cpu = portier.serverCores / portier.tokensPerSecond / (peer.serverCores / peer.tokensPerSecond);
      verdicts.push(
        `${pattern.name}: ${ratio >= LEAST_VS_PEER ? 'PASS' : 'MISS'} portier-pg ${fixed(ratio, 2)} × the peer's tokens/s ≥ ${fixed(LEAST_VS_PEER, 2)}` +
          ` (server CPU per token ${fixed(cpu, 2)} × the peer's)`,
      );
    }
  }
  for (const verdict of verdicts) log(`targets, ${verdict}`);
  for (const target of fronted) await target.front.stop();
  return problems;
}
