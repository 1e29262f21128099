// The attack table: a legitimate client's throughput on portier-pg alone, then under a
// wrong-secret flood and under a random-client_id flood sent from another loopback address
// (127.0.0.2), and under slow connections from 100 addresses (slow-connections.ts); in each
// scenario a client created meanwhile must get its first token quickly. BENCH_ATTACKS
// chooses the scenarios.
import http from 'node:http';
import { generateClientId } from '../src/clients/rules.js';
import { generateOpaqueSecret } from '../src/clients/secrets.js';
import { type LoadResult, peakRssMb, runLoad, type ScenarioTableContext } from './load.js';
import { assertLoopback, onCleanup, sleep } from './processes.js';
import { fixed, integer, median, Table } from './report.js';
import { SLOW_ADDRESSES, SLOW_PER_ADDRESS, SLOW_SCENARIO_MAX_CONNECTIONS, startSlowConnections } from './slow-connections.js';
import { basicAuthorization, type Credentials, checkToken, portierSpec, TOKEN_BODY, type TokenSpec } from './targets.js';

/** Where the attacker's sockets come from; the legitimate load comes from 127.0.0.1. */
export const ATTACKER_ADDRESS = '127.0.0.2';
export const FLOOD_CONNECTIONS = 20;
/** An attacker's request without an answer after this long is a timeout (a tarpit answers late on purpose). */
const ANSWER_TIMEOUT_MS = 15_000;
/** At stop, answers still awaited get this long before their sockets are closed. */
const STOP_GRACE_MS = 3_000;
const MAX_FLOOD_REQUESTS = 250_000;
/** The new client gives up on its first token after this long. */
export const NEW_CLIENT_DEADLINE_S = 20;

const tally = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const tallies = (map: Map<string, number>) =>
  [...map]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}×${integer(n)}`)
    .join(' ') || '-';

// ---- the flood -----------------------------------------------------------------------------

export interface FloodReport {
  requests: number;
  seconds: number;
  /** By HTTP status; else the connection error's code, `timeout`, or `cut` (unanswered at stop). */
  outcomes: Map<string, number>;
  meanAnswerMs: number;
  maxAnswerMs: number;
  /** CPU of this process (where the flood generator runs) over the flood, in cores. */
  cores: number;
}

/**
 * FLOOD_CONNECTIONS keep-alive sockets bound to ATTACKER_ADDRESS, each sending the next
 * request as soon as the previous answer arrives (an attacker ignores Retry-After). Stops by
 * itself after `maxSeconds` or MAX_FLOOD_REQUESTS requests; `stop()` ends it earlier.
 */
export function startFlood(tokenUrl: string, authorization: () => string, maxSeconds: number): () => Promise<FloodReport> {
  assertLoopback(tokenUrl);
  const url = new URL(tokenUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: FLOOD_CONNECTIONS });
  const outcomes = new Map<string, number>();
  const inFlight = new Set<http.ClientRequest>();
  const answerMs: number[] = [];
  let requests = 0;
  let stopping = false;
  const started = performance.now();
  const cpu0 = process.cpuUsage();

  /** One request; resolves true when an HTTP answer came back. */
  const send = () =>
    new Promise<boolean>((resolve) => {
      const sentAt = performance.now();
      let settled = false;
      const settle = (outcome: string, answered: boolean) => {
        if (settled) return;
        settled = true;
        inFlight.delete(request);
        tally(outcomes, outcome);
        if (answered) answerMs.push(performance.now() - sentAt);
        resolve(answered);
      };
      const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: authorization() };
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers,
        agent,
        localAddress: ATTACKER_ADDRESS,
        timeout: ANSWER_TIMEOUT_MS,
      });
      inFlight.add(request);
      request.on('response', (response) => {
        response.on('end', () => settle(String(response.statusCode), true));
        response.resume();
      });
      request.on('timeout', () => {
        settle('timeout', false);
        request.destroy();
      });
      request.on('error', (error: NodeJS.ErrnoException) => settle(stopping ? 'cut' : (error.code ?? 'error'), false));
      request.on('close', () => settle(stopping ? 'cut' : 'closed', false));
      request.end(TOKEN_BODY);
    });

  const worker = async () => {
    while (!stopping && requests < MAX_FLOOD_REQUESTS) {
      requests += 1;
      if (!(await send())) await sleep(50); // after an error, pause rather than spin
    }
  };
  const workers = Promise.all(Array.from({ length: FLOOD_CONNECTIONS }, worker));
  const limit = setTimeout(() => (stopping = true), maxSeconds * 1000);

  let report: Promise<FloodReport> | undefined;
  const stop = () =>
    (report ??= (async () => {
      stopping = true;
      clearTimeout(limit);
      await Promise.race([workers, sleep(STOP_GRACE_MS)]);
      for (const request of inFlight) request.destroy();
      agent.destroy();
      await workers;
      const cpu = process.cpuUsage(cpu0);
      const elapsedMs = performance.now() - started;
      return {
        requests,
        seconds: elapsedMs / 1000,
        outcomes,
        meanAnswerMs: answerMs.reduce((a, b) => a + b, 0) / answerMs.length,
        maxAnswerMs: Math.max(0, ...answerMs),
        cores: (cpu.user + cpu.system) / 1e3 / elapsedMs,
      };
    })());
  onCleanup('stop the flood', async () => void (await stop()));
  return stop;
}

// ---- the new client ------------------------------------------------------------------------

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date); 250 without one. */
function retryAfterMs(header: string | null): number {
  if (header === null) return 250;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? 250 : Math.max(0, date - Date.now());
}

export interface NewClientReport {
  /** From sending the create request to the first 200 token; undefined if none came. */
  firstTokenSeconds: number | undefined;
  createSeconds: number | undefined;
  /** Every answer on the way: `create 201`, `token 503`, … */
  answers: Map<string, number>;
  failure: string | undefined;
}

/**
 * Creates a client through the admin API, then asks for its first token from 127.0.0.1.
 * The create call is retried on 429, 503 and connection errors, the token request on
 * anything but a 200 (the new client may not be known yet), each after the Retry-After it
 * carries, until NEW_CLIENT_DEADLINE_S.
 */
export async function newClientFirstToken(baseUrl: string, adminToken: string): Promise<NewClientReport> {
  const started = performance.now();
  const deadline = started + NEW_CLIENT_DEADLINE_S * 1000;
  const answers = new Map<string, number>();
  /** POSTs until `retry(status)` is false (returns that answer) or the deadline (returns undefined). */
  const post = async (step: string, url: string, init: RequestInit, retry: (status: number) => boolean) => {
    while (performance.now() < deadline) {
      let wait = 250;
      try {
        const response = await fetch(url, {
          ...init,
          method: 'POST',
          signal: AbortSignal.timeout(Math.ceil(deadline - performance.now())),
        });
        const text = await response.text();
        tally(answers, `${step} ${response.status}`);
        if (!retry(response.status)) return { status: response.status, text };
        wait = retryAfterMs(response.headers.get('retry-after'));
      } catch (error) {
        const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
        if (performance.now() < deadline) tally(answers, `${step} ${cause?.code ?? (error instanceof Error ? error.name : 'error')}`);
      }
      await sleep(Math.min(wait, Math.max(0, deadline - performance.now())));
    }
    return undefined;
  };
  const report = (failure: string | undefined, createdAt?: number): NewClientReport => ({
    firstTokenSeconds: failure === undefined ? (performance.now() - started) / 1000 : undefined,
    createSeconds: createdAt === undefined ? undefined : (createdAt - started) / 1000,
    answers,
    failure,
  });

  const created = await post(
    'create',
    `${baseUrl}/admin/clients`,
    {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ name: 'Client created under load', owner: 'bench', grants: [{ service: 'bench-api', scopes: ['read'] }] }),
    },
    (status) => status === 429 || status === 503,
  );
  if (created === undefined) return report(`not created within ${NEW_CLIENT_DEADLINE_S} s`);
  if (created.status !== 201) return report(`the admin API answered ${created.status}: ${created.text.slice(0, 200)}`);
  const createdAt = performance.now();
  const { client_id: clientId, client_secret: clientSecret } = JSON.parse(created.text) as { client_id: string; client_secret: string };
  const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization({ clientId, clientSecret }) };
  const token = await post('token', `${baseUrl}/oauth/token`, { headers, body: TOKEN_BODY }, (status) => status !== 200);
  return report(token === undefined ? `no token within ${NEW_CLIENT_DEADLINE_S} s` : undefined, createdAt);
}

/** A token for the admin API (audience `<issuer>/admin`). */
async function adminToken(baseUrl: string, admin: Credentials): Promise<string> {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(admin) },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience: `${baseUrl}/admin`, scope: 'admin:write' }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`admin token: ${response.status} ${text.slice(0, 200)}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

// ---- the table ---------------------------------------------------------------------------------

export interface AttackContext extends ScenarioTableContext {
  victimId: string;
  admin: Credentials;
}

/** What an attack did, for the table (its outcomes) and the notes. */
interface AttackReport {
  outcomes: Map<string, number>;
  note: string;
}

/** One scenario of the table. */
interface Scenario {
  /** What BENCH_ATTACKS calls it. */
  key: AttackKey;
  name: string;
  /** Starts the attack on the server; none: the legitimate client alone. Returns its stop. */
  attack?: (spec: TokenSpec, maxSeconds: number) => () => Promise<AttackReport>;
  /** Portier settings of this scenario's server. */
  env?: Record<string, string>;
  /** The legitimate client must see no error at all: no connection reset, no non-2xx answer. */
  noLegitErrors?: boolean;
}

export const ATTACK_KEYS = ['alone', 'wrong-secret', 'random-client-id', 'slow-connections'] as const;
export type AttackKey = (typeof ATTACK_KEYS)[number];

/** BENCH_ATTACKS: which scenarios, comma-separated (default all); `alone` is what the others are compared with. */
export function selectedAttacks(spec: string | undefined): AttackKey[] {
  const names = (spec?.trim() || ATTACK_KEYS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(ATTACK_KEYS as readonly string[]).includes(name))
      throw new Error(`BENCH_ATTACKS: unknown scenario "${name}" (known: ${ATTACK_KEYS.join(', ')})`);
  }
  return ATTACK_KEYS.filter((key) => names.includes(key));
}

/** A flood of token requests from ATTACKER_ADDRESS, each with the authorization `attacker` makes. */
function flood(attacker: () => string) {
  return (spec: TokenSpec, maxSeconds: number) => {
    const stop = startFlood(spec.tokenUrl, attacker, maxSeconds);
    return async (): Promise<AttackReport> => {
      const attack = await stop();
      return {
        outcomes: attack.outcomes,
        note:
          `attacker sent ${integer(attack.requests)} requests in ${fixed(attack.seconds, 1)} s (${integer(attack.requests / attack.seconds)}/s), ` +
          `answer time mean ${fixed(attack.meanAnswerMs, 0)} ms, max ${fixed(attack.maxAnswerMs, 0)} ms; bench process (flood generator) ${fixed(attack.cores, 2)} cores`,
      };
    };
  };
}

/** Slow connections from SLOW_ADDRESSES addresses (see slow-connections.ts). */
function slowConnections(spec: TokenSpec, maxSeconds: number) {
  const stop = startSlowConnections(new URL(spec.tokenUrl).origin, maxSeconds);
  return async (): Promise<AttackReport> => {
    const report = await stop();
    return {
      outcomes: report.outcomes,
      note:
        `${SLOW_ADDRESSES} addresses × ${SLOW_PER_ADDRESS} slow connections against MAX_CONNECTIONS=${SLOW_SCENARIO_MAX_CONNECTIONS} for ${fixed(report.seconds, 1)} s; ` +
        `bench process (connection driver) ${fixed(report.cores, 2)} cores`,
    };
  };
}

/** What one scenario's run measured. */
interface ScenarioRun {
  legit: LoadResult;
  peakRssMb: number;
  newClient: NewClientReport;
  attack: AttackReport | undefined;
}

/**
 * Runs the scenarios `rounds` times in turn, prints a row per run, then a median row
 * per scenario and the verdicts on those medians (the new client: the slowest of its runs);
 * returns the problems met. Taking turns, and medians, keeps a slow moment of the machine
 * from deciding a verdict: it varies by 10–25 % from minute to minute.
 */
export async function attackTable(ctx: AttackContext, keys: readonly AttackKey[] = ATTACK_KEYS): Promise<string[]> {
  const { log } = ctx;
  const all: Scenario[] = [
    { key: 'alone', name: 'alone' },
    // A guessing attack on a client that exists: a new wrong secret each time.
    {
      key: 'wrong-secret',
      name: 'wrong-secret flood',
      attack: flood(() => basicAuthorization({ clientId: ctx.victimId, clientSecret: generateOpaqueSecret() })),
    },
    // Client_ids that follow the rule but do not exist, with secrets of the right shape.
    {
      key: 'random-client-id',
      name: 'random-client_id flood',
      attack: flood(() => basicAuthorization({ clientId: generateClientId(), clientSecret: generateOpaqueSecret() })),
    },
    // Slowloris from many machines, each under the per-address cap, together twice MAX_CONNECTIONS.
    {
      key: 'slow-connections',
      name: `slow connections from ${SLOW_ADDRESSES} addresses, reconnecting`,
      attack: slowConnections,
      env: { MAX_CONNECTIONS: String(SLOW_SCENARIO_MAX_CONNECTIONS) },
      noLegitErrors: true,
    },
  ];
  const scenarios = all.filter((scenario) => keys.includes(scenario.key));
  const titles = ['legit tokens/s', 'legit p99 ms', 'vs alone', 'legit non-2xx+err', 'new client 1st token s', 'server peak RSS MB'];
  const table = new Table([
    { title: 'scenario', align: 'left' },
    { title: 'round' },
    ...titles.map((title) => ({ title })),
    { title: 'attacker answers (by status)', align: 'left' },
  ]);
  table.fit([...scenarios.map((scenario) => scenario.name), 'median']);
  const problems: string[] = [];
  const notes: string[] = [];
  const runs = new Map<string, ScenarioRun[]>(scenarios.map((scenario) => [scenario.name, []]));
  const aloneTokens = () => median((runs.get('alone') ?? []).map((run) => run.legit.tokensPerSecond));
  const firstToken = (report: NewClientReport) => report.firstTokenSeconds ?? Number.POSITIVE_INFINITY;
  /** `vs alone`: against the alone run of the same round in a run's row, the median alone in a median row. */
  const cells = (
    name: string,
    round: string,
    alone: number,
    legit: Pick<LoadResult, 'tokensPerSecond' | 'p99' | 'non2xx' | 'errors'>,
    first: number,
    rss: number,
    answers: string,
  ) => [
    name,
    round,
    integer(legit.tokensPerSecond),
    fixed(legit.p99, 1),
    fixed(legit.tokensPerSecond / alone, 2),
    integer(legit.non2xx + legit.errors),
    Number.isFinite(first) ? fixed(first, 2) : `> ${NEW_CLIENT_DEADLINE_S}`,
    fixed(rss, 1),
    answers,
  ];
  log(table.header());
  for (let round = 1; round <= ctx.rounds; round++) {
    let aloneThisRound = Number.NaN;
    for (const [index, scenario] of scenarios.entries()) {
      try {
        const run = await runScenario(ctx, scenario, `attack-${round}-${index}`);
        runs.get(scenario.name)?.push(run);
        const { legit, newClient, attack } = run;
        if (scenario.attack === undefined) aloneThisRound = legit.tokensPerSecond;
        log(
          table.row(
            cells(
              scenario.name,
              String(round),
              aloneThisRound,
              legit,
              firstToken(newClient),
              run.peakRssMb,
              attack === undefined ? '-' : tallies(attack.outcomes),
            ),
          ),
        );
        notes.push(
          `${scenario.name}, round ${round}: new client ${newClient.createSeconds === undefined ? 'not created' : `created in ${fixed(newClient.createSeconds, 2)} s`}, ` +
            `answers on the way ${tallies(newClient.answers)}${newClient.failure === undefined ? '' : ` (${newClient.failure})`}; ` +
            `cores: server ${fixed(legit.serverCores, 2)}, load.mjs ${fixed(legit.loadgenCores, 2)}, other ${fixed(legit.otherCores, 2)}, steal ${fixed(legit.stealCores, 2)}`,
        );
        if (attack !== undefined) notes.push(`${scenario.name}, round ${round}: ${attack.note}`);
      } catch (error) {
        problems.push(`attack scenario "${scenario.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
        log(`  ${problems.at(-1)}`);
      }
    }
  }

  log();
  log(`median per scenario over ${ctx.rounds} round(s); new client: the slowest run`);
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const verdicts: string[] = [];
  for (const scenario of scenarios) {
    const mine = runs.get(scenario.name) ?? [];
    if (mine.length === 0) continue;
    const legit = {
      tokensPerSecond: median(mine.map((run) => run.legit.tokensPerSecond)),
      p99: median(mine.map((run) => run.legit.p99)),
      non2xx: median(mine.map((run) => run.legit.non2xx)),
      errors: median(mine.map((run) => run.legit.errors)),
    };
    const slowest = Math.max(...mine.map((run) => firstToken(run.newClient)));
    const rss = Math.max(...mine.map((run) => run.peakRssMb));
    log(table.row(cells(scenario.name, 'median', aloneTokens(), legit, slowest, rss, '')));
    const ratio = legit.tokensPerSecond / aloneTokens();
    const checks = [
      `${mark(slowest <= 5)} new client's first token ${Number.isFinite(slowest) ? `${fixed(slowest, 2)} s` : 'never came'} ≤ 5 s`,
    ];
    if (scenario.attack !== undefined) {
      checks.unshift(
        `${mark(ratio >= 0.8)} legit keeps ${fixed(ratio * 100, 0)} % of its tokens/s alone (≥ 80 %)`,
        `${mark(legit.p99 <= 20)} legit p99 ${fixed(legit.p99, 1)} ms ≤ 20`,
      );
    }
    if (scenario.noLegitErrors === true) {
      const worst = Math.max(...mine.map((run) => run.legit.non2xx + run.legit.errors));
      checks.push(`${mark(worst === 0)} legit non-2xx and connection errors (resets included) ${integer(worst)} = 0 in every run`);
    }
    verdicts.push(`targets, ${scenario.name}: ${checks.join('; ')}`);
  }
  log();
  for (const line of [...verdicts, ...notes.map((note) => `  ${note}`)]) log(line);
  return problems;
}

/**
 * One scenario on a fresh portier-pg: the legitimate client's load, the flood if there is
 * one, and a client created meanwhile asking for its first token.
 */
async function runScenario(ctx: AttackContext, scenario: Scenario, name: string): Promise<ScenarioRun> {
  const { settings } = ctx;
  const server = await ctx.startPortier(scenario.env);
  let stopFlood: (() => Promise<AttackReport>) | undefined;
  try {
    const base = server.baseUrl;
    const spec = portierSpec(base, ctx.legit, ctx.alg);
    await checkToken(spec); // the legitimate client's secret is verified (and remembered) before any flood
    const admin = await adminToken(base, ctx.admin);
    if (scenario.attack !== undefined) stopFlood = scenario.attack(spec, settings.warmupSeconds + NEW_CLIENT_DEADLINE_S + 6);
    const probe = sleep((settings.warmupSeconds + 1) * 1000).then(() => newClientFirstToken(base, admin));
    const [legit, newClient] = await Promise.all([runLoad(ctx.sharedDir, ctx.jsonDir, name, spec, server.child.pid, settings), probe]);
    const attack = await stopFlood?.();
    if (attack !== undefined) attack.note += `; server closed connections: ${await connectionsClosed(base)}`;
    return { legit, peakRssMb: peakRssMb(server.child.pid), newClient, attack };
  } finally {
    await stopFlood?.();
    await server.child.stop();
  }
}

/** The server's portier_connections_closed_total by reason, from /metrics (what the connection caps did). */
async function connectionsClosed(baseUrl: string): Promise<string> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const counts = [...text.matchAll(/^portier_connections_closed_total\{reason="([a-z_]+)"\} (\d+)/gm)].map(
      ([, reason, count]) => `${reason}×${integer(Number(count))}`,
    );
    return counts.join(' ') || 'none';
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  }
}
