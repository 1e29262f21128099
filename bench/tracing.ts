// The tracing rows (issue 33): what OpenTelemetry tracing costs the token path. portier-pg is
// started three ways in turn on the same database: tracing off (no OTLP endpoint: the SDK is
// never loaded), on with 1 % of traces sampled, and on with all of them, each exporting
// OTLP/HTTP protobuf (the default) to a receiver in this process that reads each export and
// drops it, as a Collector would answer. Targets: 1 % costs ≤ 3 %, 100 % costs ≤ 15 %.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LoadResult, peakRssMb, runLoad, type ScenarioTableContext } from './load.js';
import { fixed, integer, medianFields, Table } from './report.js';
import { checkToken, portierSpec } from './targets.js';

interface Scenario {
  name: string;
  /** The OTEL_* variables of this start (none: tracing off). */
  env: (endpoint: string) => Record<string, string>;
  /** The least share of tracing off's tokens/s: the target. */
  least?: number;
}

const sampled = (ratio: string) => (endpoint: string) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: ratio,
});

const SCENARIOS: Scenario[] = [
  { name: 'tracing off', env: () => ({}) },
  { name: 'tracing on, 1 % sampled', env: sampled('0.01'), least: 0.97 },
  { name: 'tracing on, 100 % sampled', env: sampled('1.0'), least: 0.85 },
];

/** An OTLP/HTTP receiver that reads every export and discards it: counts requests and bytes only. */
async function startDiscardingReceiver(): Promise<{
  endpoint: string;
  exports: () => number;
  bytes: () => number;
  close: () => Promise<void>;
}> {
  let exports = 0;
  let bytes = 0;
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on('end', () => {
      exports += 1;
      // An empty ExportTraceServiceResponse in protobuf is no bytes at all.
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs the three starts `ctx.rounds` times in turn, logs a row each and the medians, returns the problems. */
export async function tracingTable(ctx: ScenarioTableContext): Promise<string[]> {
  const { log } = ctx;
  const receiver = await startDiscardingReceiver();
  const problems: string[] = [];
  const table = new Table([
    { title: 'scenario', align: 'left' },
    { title: 'round' },
    { title: 'tokens/s' },
    { title: 'p99 ms' },
    { title: 'vs off' },
    { title: 'non-2xx+err' },
    { title: 'server cores' },
    { title: 'server ms/token' },
    { title: 'cpu vs off' },
    { title: 'peak RSS MB' },
  ]);
  table.fit(['tracing on, 100 % sampled', 'median']);
  /** The server's CPU per token (ms): steadier than tokens/s on a shared machine, where the server does not always get its cores. */
  const msPerToken = (load: LoadResult) => (load.serverCores * 1000) / load.tokensPerSecond;
  const cells = (name: string, round: string, base: LoadResult, load: LoadResult, rss: number) => [
    name,
    round,
    integer(load.tokensPerSecond),
    fixed(load.p99, 1),
    fixed(load.tokensPerSecond / base.tokensPerSecond, 3),
    integer(load.non2xx + load.errors),
    fixed(load.serverCores, 2),
    fixed(msPerToken(load), 3),
    fixed(msPerToken(base) / msPerToken(load), 3),
    fixed(rss, 1),
  ];
  const runs = new Map<string, Array<{ load: LoadResult; rss: number }>>(SCENARIOS.map((scenario) => [scenario.name, []]));
  try {
    log(table.header());
    for (let round = 1; round <= ctx.rounds; round += 1) {
      let base: LoadResult | undefined;
      for (const [index, scenario] of SCENARIOS.entries()) {
        try {
          const server = await ctx.startPortier(scenario.env(receiver.endpoint));
          try {
            const spec = portierSpec(server.baseUrl, ctx.legit, ctx.alg);
            await checkToken(spec);
            const load = await runLoad(ctx.sharedDir, ctx.jsonDir, `tracing-${round}-${index}`, spec, server.child.pid, ctx.settings);
            const rss = peakRssMb(server.child.pid);
            runs.get(scenario.name)?.push({ load, rss });
            if (index === 0) base = load;
            log(table.row(cells(scenario.name, String(round), base ?? load, load, rss)));
          } finally {
            await server.child.stop();
          }
        } catch (error) {
          problems.push(`tracing scenario "${scenario.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
          log(`  ${problems.at(-1)}`);
        }
      }
    }
    log();
    log(`median per scenario over ${ctx.rounds} round(s)`);
    const medianOf = (name: string): LoadResult | undefined => medianFields((runs.get(name) ?? []).map((run) => run.load));
    const off = medianOf('tracing off');
    const verdicts: string[] = [];
    for (const scenario of SCENARIOS) {
      const load = medianOf(scenario.name);
      if (load === undefined || off === undefined) continue;
      const rss = Math.max(...(runs.get(scenario.name) ?? []).map((run) => run.rss));
      log(table.row(cells(scenario.name, 'median', off, load, rss)));
      if (scenario.least === undefined) continue;
      const ratio = load.tokensPerSecond / off.tokensPerSecond;
      const mark = ratio >= scenario.least ? 'PASS' : 'MISS';
      const cpu = msPerToken(off) / msPerToken(load);
      verdicts.push(
        `${mark} ${scenario.name}: ${fixed(ratio * 100, 1)} % of tracing off's tokens/s (costs ≤ ${fixed((1 - scenario.least) * 100, 0)} %); ` +
          `per second of the server's CPU, ${fixed(cpu * 100, 1)} % of tracing off's tokens`,
      );
    }
    log();
    log(`OTLP exports received (and dropped): ${integer(receiver.exports())}, ${fixed(receiver.bytes() / 1e6, 1)} MB`);
    for (const verdict of verdicts) log(`targets, ${verdict}`);
  } finally {
    await receiver.close();
  }
  return problems;
}
