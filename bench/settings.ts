// The settings of `npm run bench`, from its environment variables (see bench/README.md):
// which targets and tables, how long each run, and a check that the whole plan fits; and
// the commit measured.
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectedAttacks } from './attack.js';
import type { LoadSettings } from './load.js';
import { assertLoopback } from './processes.js';

/** The repository. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function numberVar(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new Error(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  return value;
}

const ALL_TARGETS = ['portier-pg', 'peer', 'ceiling', 'portier-pglite'] as const;
export type TargetName = (typeof ALL_TARGETS)[number];

export const alg = process.env.BENCH_ALG?.trim() || 'ES256';
export const rounds = numberVar('BENCH_ROUNDS', 2, 1, 5);
export const settings: LoadSettings = {
  warmupSeconds: numberVar('BENCH_WARMUP', 3, 0, 15),
  durationSeconds: numberVar('BENCH_DURATION', 10, 1, 15),
  connections: numberVar('BENCH_CONNECTIONS', 50, 1, 200),
};
export const targetNames = (process.env.BENCH_TARGETS?.trim() || ALL_TARGETS.join(','))
  .split(',')
  .map((name) => name.trim())
  .filter((name) => name !== '') as TargetName[];
for (const name of targetNames) {
  if (!ALL_TARGETS.includes(name)) throw new Error(`BENCH_TARGETS: unknown target "${name}" (known: ${ALL_TARGETS.join(', ')})`);
}
export const attack = process.env.BENCH_ATTACK?.trim() !== '0' && targetNames.includes('portier-pg');
/** The federation table (federation.ts): a federated client next to a private_key_jwt one, on portier-pg. */
export const federation = process.env.BENCH_FEDERATION?.trim() !== '0' && targetNames.includes('portier-pg');
/** The token exchange table (exchange.ts): token exchange next to client credentials, on portier-pg. */
export const exchange = process.env.BENCH_EXCHANGE?.trim() !== '0' && targetNames.includes('portier-pg');
/** The mutual TLS rows (mtls.ts): a certificate client next to a secret client over HTTPS, in this process. */
export const mtls = process.env.BENCH_MTLS?.trim() !== '0';
/** The credentials table (lifecycle.ts): five secrets vs one, a wrong-checksum flood, on portier-pg. */
export const lifecycle = process.env.BENCH_LIFECYCLE?.trim() !== '0' && targetNames.includes('portier-pg');
export const attacks = selectedAttacks(process.env.BENCH_ATTACKS);
export const policy = process.env.BENCH_POLICY?.trim() !== '0' && targetNames.includes('portier-pg');
/** The tracing table (tracing.ts): portier-pg with tracing off, 1 % and 100 % sampled. */
export const tracing = process.env.BENCH_TRACING?.trim() !== '0' && targetNames.includes('portier-pg');
/** The connection-pattern table (connections.ts): new connections, HTTPS, on the running targets but portier-pglite. */
export const patterns = process.env.BENCH_PATTERNS?.trim() !== '0';
export const pgServerUrl = process.env.BENCH_PG_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
export const sharedDir = resolve(process.env.BENCH_SHARED_DIR?.trim() || join(ROOT, '..', 'shared', 'bench'));
export const cpuProfileDir = process.env.BENCH_CPU_PROF?.trim() ? resolve(process.env.BENCH_CPU_PROF.trim()) : undefined;
export const skipBuild = process.env.BENCH_SKIP_BUILD === '1';

/** The whole run, set-up included; past it everything is stopped and removed. */
export const DEADLINE_SECONDS = 900;
/** The most load time a run may plan: every table at its defaults fits (2 rounds, 494 s). */
const MAX_LOAD_SECONDS = 520;
const loadSeconds = settings.warmupSeconds + settings.durationSeconds;
const plannedLoadSeconds =
  rounds *
    (targetNames.length +
      (attack ? attacks.length : 0) +
      (federation ? 2 : 0) +
      (exchange ? 2 : 0) +
      (policy ? 4 : 0) +
      (lifecycle ? 6 : 0) +
      (tracing ? 3 : 0)) *
    loadSeconds +
  (mtls ? 4 : 0) * loadSeconds;
if (plannedLoadSeconds > MAX_LOAD_SECONDS)
  throw new Error(
    `planned load time ${plannedLoadSeconds} s is over ${MAX_LOAD_SECONDS} s: lower BENCH_ROUNDS, BENCH_DURATION or BENCH_TARGETS, or skip a table`,
  );
assertLoopback(pgServerUrl);

/** The commit measured, and whether src/ or drizzle/ has changes not committed. */
export function gitDescription(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'drizzle'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return `${commit}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}
