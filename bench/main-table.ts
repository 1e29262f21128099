// The main table of `npm run bench`: one row per run of load.mjs against a target, the
// median per target, the ratios of portier-pg to the peer and the ceiling, and the targets.
import type { LoadResult } from './load.js';
import { check, fixed, integer, medianFields, RunTable, Table } from './report.js';
import type { TargetName } from './settings.js';

export type MainRow = LoadResult & { peakRssMb: number };

const titles = [
  'round',
  'tokens/s',
  'p50 ms',
  'p99 ms',
  'non-2xx',
  'errors',
  'peak RSS MB',
  'server cores',
  'loadgen cores',
  'other cores',
  'steal cores',
];

const cells = (target: string, round: string, r: MainRow) => [
  ...[target, round, integer(r.tokensPerSecond), fixed(r.p50, 1), fixed(r.p99, 1), integer(r.non2xx), integer(r.errors)],
  ...[fixed(r.peakRssMb, 1), fixed(r.serverCores, 2), fixed(r.loadgenCores, 2), fixed(r.otherCores, 2), fixed(r.stealCores, 2)],
];

/** The table's runs, printed as they come. */
export function mainTable(log: (line?: string) => void): RunTable<TargetName, MainRow> {
  const table = new Table([{ title: 'target', align: 'left' }, ...titles.map((title) => ({ title }))]);
  table.fit(['portier-pglite', 'median']);
  return new RunTable<TargetName, MainRow>(table, cells, log);
}

/** The median of a target's runs, field by field; peak RSS: the highest (the process's own high-water mark). */
export function medianMainRow(runs: MainRow[]): MainRow | undefined {
  const row = medianFields(runs);
  if (row !== undefined) row.peakRssMb = Math.max(...runs.map((run) => run.peakRssMb));
  return row;
}

/** The ratios and the targets (ES256, PostgreSQL, the 2-core development machine), on the medians of this run. */
export function printTargets(medians: Map<TargetName, MainRow>, alg: string, log: (line?: string) => void): void {
  const pg = medians.get('portier-pg');
  const peer = medians.get('peer');
  const ceiling = medians.get('ceiling');
  const ratio = (other: MainRow | undefined) =>
    pg === undefined || other === undefined ? Number.NaN : pg.tokensPerSecond / other.tokensPerSecond;
  log(`ratio portier-pg/peer: ${fixed(ratio(peer), 2)}; portier-pg/ceiling: ${fixed(ratio(ceiling), 2)} (median tokens/s of this run)`);
  if (pg === undefined) return;
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const vs = (other: MainRow | undefined, bar: number, what: string) =>
    other === undefined ? `n/a ≥ ${fixed(bar, 2)} × ${what} (not measured)` : check({ ratio: ratio(other), unit: `× ${what}`, bar });
  // p99 within 2 ms of the ceiling's: the database and the features may cost throughput, not latency.
  const p99Bar = ceiling === undefined ? Number.NaN : ceiling.p99 + 2;
  const checks = [
    vs(peer, 2.5, 'the peer'),
    vs(ceiling, 0.95, 'the ceiling'),
    ceiling === undefined
      ? 'n/a p99 ≤ the ceiling’s + 2 ms (not measured)'
      : `${mark(pg.p99 <= p99Bar)} p99 ${fixed(pg.p99, 1)} ms ≤ ${fixed(p99Bar, 1)} (the ceiling’s + 2)`,
    `${mark(pg.peakRssMb <= 200)} peak RSS ${fixed(pg.peakRssMb, 1)} MB ≤ 200`,
  ];
  log(`targets, portier-pg${alg === 'ES256' ? '' : ` (measured with ${alg}: the targets are for ES256)`}: ${checks.join('; ')}`);
}
