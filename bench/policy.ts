// The token policy table: bench-client's throughput on portier-pg with no policy, a client
// with its own lifetime and custom claims, the issuance hook (a loopback hook answering at
// once, and one whose answer may be reused for 60 s), and per-client quotas in enforce mode while one client floods far beyond its quota.
// Each scenario on a fresh portier-pg process on the bench database, the scenarios in turn.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Actor } from '../src/audit/events.js';
import { createClient } from '../src/clients/clients.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase } from '../src/db/connect.js';
import { type FloodReport, startFlood } from './attack.js';
import { type LoadResult, peakRssMb, runLoad, type ScenarioTableContext } from './load.js';
import { LOOPBACK, onCleanup } from './processes.js';
import { fixed, integer, medianFields, Table } from './report.js';
import { basicAuthorization, type Credentials, checkToken, portierSpec, requestToken } from './targets.js';

const BENCH_ACTOR: Actor = { clientId: 'bench', sub: null };
const HOOK_SECRET = 'bench-hook-secret-0123456789abcdefghijklmnop';
/** The noisy client's quota: used up within the warm-up, refused for the rest of the run. */
const NOISY_QUOTA_PER_HOUR = 100;
/** The default quota every other client is under: enforced, never reached. */
const DEFAULT_QUOTA_PER_HOUR = 1_000_000_000;

/** The clients of the policy table, made with the project's own functions on the bench database. */
export interface PolicyClients {
  /** A client with its own lifetime and custom claims (granted bench-api, as bench-client). */
  shaped: Credentials;
  /** A client with a small quota, which the flood exceeds. */
  noisy: Credentials;
}

export async function setUpPolicyClients(env: NodeJS.ProcessEnv): Promise<PolicyClients> {
  const config = loadConfig(env);
  const database = await connectDatabase(config);
  try {
    const register = async (clientId: string, fields: Parameters<typeof createClient>[1]) => {
      const { client, clientSecret } = await createClient(database.db, { ...fields, client_id: clientId }, BENCH_ACTOR, {
        now: Date.now(),
      });
      if (clientSecret === undefined) throw new Error('createClient returned no secret');
      return { clientId: client.client_id, clientSecret };
    };
    const common = {
      name: 'bench',
      owner: 'bench',
      first_name: 'Bench',
      last_name: 'Client',
      roles: ['reader'],
      grants: [{ service: 'bench-api', scopes: ['read', 'write'] }],
    };
    return {
      shaped: await register('bench-shaped', {
        ...common,
        access_token_ttl: 900,
        // About what a deployment puts in: a tenant, a plan, a few ids and flags.
        claims: {
          tenant: 'acme-eu',
          plan: 'gold',
          department: 'logistics',
          region: ['eu-west-1', 'eu-central-1'],
          limits: { rps: 50, burst: 100 },
          features: ['orders', 'invoices', 'exports'],
        },
      }),
      noisy: await register('bench-noisy', { ...common, token_quota: { per_hour: NOISY_QUOTA_PER_HOUR, mode: 'enforce' } }),
    };
  } finally {
    await database.close();
  }
}

/**
 * A hook on the loopback that answers every call at once, adding one claim, and allowing
 * its answer to be reused for `cacheFor` seconds when given; closed at cleanup.
 */
async function startHook(cacheFor?: number): Promise<{ url: string; calls: () => number }> {
  let calls = 0;
  const answer = JSON.stringify({ claims: { hooked: true }, ...(cacheFor === undefined ? {} : { cache_for: cacheFor }) });
  const server = http.createServer((request, response) => {
    calls += 1;
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  onCleanup('stop the bench hook', () => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}/hook`, calls: () => calls };
}

export interface PolicyContext extends ScenarioTableContext {
  clients: PolicyClients;
}

interface Scenario {
  name: string;
  env: Record<string, string>;
  /** Who load.mjs asks tokens for. */
  client: (ctx: PolicyContext) => Credentials;
  /** The floods' credentials, if any. */
  flood?: (ctx: PolicyContext) => Credentials;
  /** The verdict: at least this share of the no-policy row's tokens/s. */
  least?: number;
}

interface ScenarioRun {
  load: LoadResult;
  peakRssMb: number;
  flood: FloodReport | undefined;
}

/** Runs the scenarios `rounds` times in turn, prints a row per run, the medians and the verdicts; returns the problems met. */
export async function policyTable(ctx: PolicyContext): Promise<string[]> {
  const { log } = ctx;
  const hook = await startHook();
  const reusedHook = await startHook(60);
  const scenarios: Scenario[] = [
    { name: 'no policy', env: {}, client: (c) => c.legit },
    { name: 'lifetime + claims', env: {}, client: (c) => c.clients.shaped, least: 0.95 },
    {
      name: 'loopback hook',
      env: { TOKEN_HOOK_URL: hook.url, TOKEN_HOOK_SECRET: HOOK_SECRET, TOKEN_HOOK_TIMEOUT: '500' },
      client: (c) => c.legit,
    },
    {
      name: 'loopback hook, cache_for 60',
      env: { TOKEN_HOOK_URL: reusedHook.url, TOKEN_HOOK_SECRET: HOOK_SECRET, TOKEN_HOOK_TIMEOUT: '500' },
      client: (c) => c.legit,
      least: 0.95,
    },
    {
      name: 'quota, one client over it',
      env: { TOKEN_QUOTA_PER_HOUR: String(DEFAULT_QUOTA_PER_HOUR), TOKEN_QUOTA_MODE: 'enforce' },
      client: (c) => c.legit,
      flood: (c) => c.clients.noisy,
      least: 0.95,
    },
  ];
  const titles = ['tokens/s', 'p99 ms', 'vs no policy', 'non-2xx+err', 'server cores', 'loadgen', 'other', 'steal', 'peak RSS MB'];
  const table = new Table([
    { title: 'scenario', align: 'left' },
    { title: 'round' },
    ...titles.map((title) => ({ title })),
    { title: 'over-quota client answers', align: 'left' },
  ]);
  table.fit(['loopback hook, cache_for 60', 'median']);
  const runs = new Map<string, ScenarioRun[]>(scenarios.map((scenario) => [scenario.name, []]));
  const problems: string[] = [];
  const notes: string[] = [];
  const cells = (name: string, round: string, base: number, load: LoadResult, rss: number, flood: string) => [
    name,
    round,
    integer(load.tokensPerSecond),
    fixed(load.p99, 1),
    fixed(load.tokensPerSecond / base, 3),
    integer(load.non2xx + load.errors),
    fixed(load.serverCores, 2),
    fixed(load.loadgenCores, 2),
    fixed(load.otherCores, 2),
    fixed(load.stealCores, 2),
    fixed(rss, 1),
    flood,
  ];
  const answers = (flood: FloodReport | undefined) =>
    flood === undefined
      ? '-'
      : [...flood.outcomes]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([status, n]) => `${status}×${integer(n)}`)
          .join(' ');
  log(table.header());
  for (let round = 1; round <= ctx.rounds; round += 1) {
    let base = Number.NaN;
    for (const [index, scenario] of scenarios.entries()) {
      try {
        const run = await runScenario(ctx, scenario, `policy-${round}-${index}`);
        runs.get(scenario.name)?.push(run);
        if (index === 0) base = run.load.tokensPerSecond;
        log(table.row(cells(scenario.name, String(round), base, run.load, run.peakRssMb, answers(run.flood))));
        if (run.flood !== undefined) {
          notes.push(
            `${scenario.name}, round ${round}: the over-quota client sent ${integer(run.flood.requests)} requests in ${fixed(run.flood.seconds, 1)} s ` +
              `(20 keep-alive connections from 127.0.0.2, ignoring Retry-After), mean answer ${fixed(run.flood.meanAnswerMs, 0)} ms`,
          );
        }
      } catch (error) {
        problems.push(`policy scenario "${scenario.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
        log(`  ${problems.at(-1)}`);
      }
    }
  }
  log();
  log(`median per scenario over ${ctx.rounds} round(s)`);
  const medianOf = (name: string) => medianFields((runs.get(name) ?? []).map((run) => run.load));
  const none = medianOf('no policy');
  const verdicts: string[] = [];
  for (const scenario of scenarios) {
    const load = medianOf(scenario.name);
    if (load === undefined || none === undefined) continue;
    const rss = Math.max(...(runs.get(scenario.name) ?? []).map((run) => run.peakRssMb));
    log(table.row(cells(scenario.name, 'median', none.tokensPerSecond, load, rss, '')));
    const ratio = load.tokensPerSecond / none.tokensPerSecond;
    if (scenario.least !== undefined) {
      const mark = ratio >= scenario.least ? 'PASS' : 'MISS';
      verdicts.push(`${mark} ${scenario.name}: ${fixed(ratio * 100, 1)} % of no policy's tokens/s (≥ ${fixed(scenario.least * 100, 0)} %)`);
    } else {
      verdicts.push(`${scenario.name}: ${fixed(ratio * 100, 1)} % of no policy's tokens/s (reported, no target)`);
    }
  }
  log();
  log(`hook calls answered: ${integer(hook.calls())}; with cache_for 60: ${integer(reusedHook.calls())}`);
  for (const line of [...verdicts.map((verdict) => `targets, ${verdict}`), ...notes.map((note) => `  ${note}`)]) log(line);
  return problems;
}

async function runScenario(ctx: PolicyContext, scenario: Scenario, label: string): Promise<ScenarioRun> {
  const server = await ctx.startPortier(scenario.env);
  let stopFlood: (() => Promise<FloodReport>) | undefined;
  try {
    const spec = portierSpec(server.baseUrl, scenario.client(ctx), ctx.alg);
    await checkToken(spec); // the secret verified (and remembered) before the load
    const flooder = scenario.flood?.(ctx);
    if (flooder !== undefined) {
      // A client over its quota is a known client with a good secret: verified (and
      // remembered) once, so the flood measures the quota's refusals, not argon2. From the
      // second round on its quota for this hour is used up already: a 429 is as good.
      await authenticateOnce(portierSpec(server.baseUrl, flooder, ctx.alg));
      const authorization = basicAuthorization(flooder);
      stopFlood = startFlood(spec.tokenUrl, () => authorization, ctx.settings.warmupSeconds + ctx.settings.durationSeconds + 5);
    }
    const load = await runLoad(ctx.sharedDir, ctx.jsonDir, label, spec, server.child.pid, ctx.settings);
    const flood = await stopFlood?.();
    return { load, peakRssMb: peakRssMb(server.child.pid), flood };
  } finally {
    await stopFlood?.();
    await server.child.stop();
  }
}

/** One token request with `spec`'s credentials, which must be accepted: a token, or a quota's 429. */
async function authenticateOnce(spec: ReturnType<typeof portierSpec>): Promise<void> {
  const { status, text } = await requestToken(spec);
  if (status !== 200 && status !== 429) throw new Error(`token request answered ${status}: ${text.slice(0, 300)}`);
}
