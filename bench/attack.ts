// The attack table: a legitimate client's throughput on portier-pg alone, then under a
// wrong-secret flood and under a random-client_id flood sent from another loopback address
// (127.0.0.2); in each scenario a client created meanwhile must get its first token quickly.
import http from 'node:http';
import { generateClientId } from '../src/clients/rules.js';
import { generateSecret } from '../src/clients/secrets.js';
import { type LoadResult, type LoadSettings, peakRssMb, runLoad } from './load.js';
import { assertLoopback, onCleanup, sleep } from './processes.js';
import { fixed, integer, Table } from './report.js';
import { basicAuthorization, checkToken, type Credentials, type Server, TOKEN_BODY, type TokenSpec } from './targets.js';

/** Where the attacker's sockets come from; the legitimate load comes from 127.0.0.1. */
export const ATTACKER_ADDRESS = '127.0.0.2';
export const FLOOD_CONNECTIONS = 20;
/** An attacker's request without an answer after this long counts as a timeout (tarpits answer late on purpose). */
const ANSWER_TIMEOUT_MS = 15_000;
/** At stop, answers still awaited get this long before their sockets are cut. */
const STOP_GRACE_MS = 3_000;
/** Upper bound on one flood's requests, whatever its duration. */
const MAX_FLOOD_REQUESTS = 250_000;
/** The new client gives up on its first token after this long. */
export const NEW_CLIENT_DEADLINE_S = 20;
/** Targets of the attack table. */
const KEEP_RATIO = 0.8;
const MAX_P99_MS = 20;
const MAX_FIRST_TOKEN_S = 5;

const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const counts = (map: Map<string, number>) =>
  [...map].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key}×${integer(n)}`).join(' ') || '-';

// ---- the flood -----------------------------------------------------------------------------

export interface FloodReport {
  requests: number;
  seconds: number;
  /** By HTTP status; connection errors by code, `timeout`, and `cut` (still unanswered at stop). */
  outcomes: Map<string, number>;
  meanAnswerMs: number;
  maxAnswerMs: number;
  /** CPU of this process (the flood generator) over the flood, in cores. */
  cores: number;
}

/**
 * FLOOD_CONNECTIONS keep-alive sockets bound to ATTACKER_ADDRESS, each sending the next
 * request as soon as the previous answer arrives (an attacker ignores Retry-After). Stops by
 * itself after `maxSeconds` or MAX_FLOOD_REQUESTS requests; `stop()` ends it earlier.
 */
export function startFlood(tokenUrl: string, authorization: () => string, maxSeconds: number): { stop(): Promise<FloodReport> } {
  assertLoopback(tokenUrl);
  const url = new URL(tokenUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: FLOOD_CONNECTIONS });
  const outcomes = new Map<string, number>();
  const inFlight = new Set<http.ClientRequest>();
  let requests = 0;
  let answered = 0;
  let answerMsTotal = 0;
  let maxAnswerMs = 0;
  let stopping = false;
  const started = performance.now();
  const cpu0 = process.cpuUsage();

  /** One request; resolves true when an HTTP answer came back. */
  const send = () =>
    new Promise<boolean>((resolve) => {
      const sentAt = performance.now();
      let settled = false;
      const settle = (outcome: string, isAnswer: boolean) => {
        if (settled) return;
        settled = true;
        inFlight.delete(request);
        count(outcomes, outcome);
        if (isAnswer) {
          const ms = performance.now() - sentAt;
          answered += 1;
          answerMsTotal += ms;
          maxAnswerMs = Math.max(maxAnswerMs, ms);
        }
        resolve(isAnswer);
      };
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        localAddress: ATTACKER_ADDRESS,
        timeout: ANSWER_TIMEOUT_MS,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: authorization() },
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
      // After a connection error, pause rather than spin.
      if (!(await send())) await sleep(50);
    }
  };
  const workers = Promise.all(Array.from({ length: FLOOD_CONNECTIONS }, worker));
  const limit = setTimeout(() => {
    stopping = true;
  }, maxSeconds * 1000);

  let report: Promise<FloodReport> | undefined;
  const stop = () => {
    report ??= (async () => {
      stopping = true;
      clearTimeout(limit);
      await Promise.race([workers, sleep(STOP_GRACE_MS)]);
      for (const request of inFlight) request.destroy();
      agent.destroy();
      await workers;
      const cpu = process.cpuUsage(cpu0);
      return {
        requests,
        seconds: (performance.now() - started) / 1000,
        outcomes,
        meanAnswerMs: answered === 0 ? Number.NaN : answerMsTotal / answered,
        maxAnswerMs,
        cores: (cpu.user + cpu.system) / 1e3 / (performance.now() - started),
      };
    })();
    return report;
  };
  onCleanup('stop the flood', async () => void (await stop()));
  return { stop };
}

// ---- the new client ------------------------------------------------------------------------

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date); `fallback` without one. */
function retryAfterMs(header: string | null, fallback: number): number {
  if (header === null) return fallback;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? fallback : Math.max(0, date - Date.now());
}

export interface NewClientReport {
  /** From asking the admin API to create the client to its first 200 token; undefined if none came. */
  firstTokenSeconds: number | undefined;
  createSeconds: number | undefined;
  /** Every answer on the way: `create 201`, `token 503`, … */
  answers: Map<string, number>;
  failure?: string;
}

/**
 * Creates a client through the admin API, then asks for its first token from 127.0.0.1.
 * A 429 or 503 (and, for the token, any refusal: the new client may not be known yet) is
 * retried after the Retry-After it carries (250 ms without one), until NEW_CLIENT_DEADLINE_S.
 */
export async function newClientFirstToken(baseUrl: string, adminToken: string): Promise<NewClientReport> {
  const started = performance.now();
  const deadline = started + NEW_CLIENT_DEADLINE_S * 1000;
  const answers = new Map<string, number>();
  const report = (failure?: string, created?: number): NewClientReport => ({
    firstTokenSeconds: failure === undefined ? (performance.now() - started) / 1000 : undefined,
    createSeconds: created === undefined ? undefined : (created - started) / 1000,
    answers,
    ...(failure !== undefined ? { failure } : {}),
  });
  /** POSTs until `done(status)` or the deadline; returns the last response, undefined on timeout. */
  const post = async (step: string, url: string, init: RequestInit, retry: (status: number) => boolean): Promise<{ status: number; text: string } | undefined> => {
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return undefined;
      let wait = 250;
      try {
        const response = await fetch(url, { ...init, method: 'POST', signal: AbortSignal.timeout(Math.ceil(remaining)) });
        const text = await response.text();
        count(answers, `${step} ${response.status}`);
        if (!retry(response.status)) return { status: response.status, text };
        wait = retryAfterMs(response.headers.get('retry-after'), wait);
      } catch (error) {
        if (performance.now() >= deadline) return undefined;
        const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
        count(answers, `${step} ${cause?.code ?? (error instanceof Error ? error.name : 'error')}`);
      }
      await sleep(Math.min(wait, Math.max(0, deadline - performance.now())));
    }
  };

  const created = await post(
    'create',
    `${baseUrl}/admin/clients`,
    {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ name: 'Client created under load', owner: 'bench', grants: [{ service: 'bench-api', scopes: ['read'] }] }),
    },
    (status) => status === 429 || status === 503,
  );
  const createdAt = performance.now();
  if (created === undefined) return report(`not created within ${NEW_CLIENT_DEADLINE_S} s`);
  if (created.status !== 201) return report(`admin API answered ${created.status}: ${created.text.slice(0, 200)}`);
  const { client_id: clientId, client_secret: clientSecret } = JSON.parse(created.text) as { client_id: string; client_secret: string };
  const token = await post(
    'token',
    `${baseUrl}/oauth/token`,
    { headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization({ clientId, clientSecret }) }, body: TOKEN_BODY },
    (status) => status !== 200,
  );
  return report(token === undefined ? `no token within ${NEW_CLIENT_DEADLINE_S} s` : undefined, createdAt);
}

/** A token for the admin API (audience `<issuer>/admin`), asked before any flood starts. */
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

export interface AttackContext {
  /** Starts a fresh portier-pg process on the bench database (stopped by the caller's cleanup or here). */
  startPortier(): Promise<Server>;
  legit: Credentials;
  victimId: string;
  admin: Credentials;
  alg: string;
  sharedDir: string;
  jsonDir: string;
  settings: LoadSettings;
  log(line?: string): void;
}

type Scenario = { name: string; attacker?: () => string };

/** Runs the three scenarios, prints the table and the verdicts; returns the problems met. */
export async function attackTable(ctx: AttackContext): Promise<string[]> {
  const { settings, log } = ctx;
  const scenarios: Scenario[] = [
    { name: 'alone' },
    // A guessing attack on a client that exists: a new wrong secret each time.
    { name: 'wrong-secret flood', attacker: () => basicAuthorization({ clientId: ctx.victimId, clientSecret: generateSecret() }) },
    // Client_ids that follow the rule but do not exist, with secrets of the right shape.
    { name: 'random-client_id flood', attacker: () => basicAuthorization({ clientId: generateClientId(), clientSecret: generateSecret() }) },
  ];
  const table = new Table([
    { title: 'scenario', align: 'left' },
    { title: 'legit tokens/s' },
    { title: 'legit p99 ms' },
    { title: 'vs alone' },
    { title: 'legit non-2xx+err' },
    { title: 'new client 1st token s' },
    { title: 'server peak RSS MB' },
    { title: 'attacker answers (by status)', align: 'left' },
  ]);
  table.fit(['random-client_id flood']);
  const problems: string[] = [];
  const verdicts: string[] = [];
  const notes: string[] = [];
  let alone: LoadResult | undefined;
  log(table.header());
  for (const scenario of scenarios) {
    let flood: ReturnType<typeof startFlood> | undefined;
    const server = await ctx.startPortier();
    try {
      const spec: TokenSpec = { ...ctx.legit, tokenUrl: `${server.baseUrl}/oauth/token`, discoveryUrl: `${server.baseUrl}/.well-known/openid-configuration`, alg: ctx.alg };
      await checkToken(spec); // the legitimate client's secret is verified (and remembered) before any flood
      const admin = await adminToken(server.baseUrl, ctx.admin);
      const floodSeconds = settings.warmupSeconds + 1 + NEW_CLIENT_DEADLINE_S + 5;
      if (scenario.attacker !== undefined) flood = startFlood(spec.tokenUrl, scenario.attacker, floodSeconds);
      const probe = sleep((settings.warmupSeconds + 1) * 1000).then(() => newClientFirstToken(server.baseUrl, admin));
      const [result, newClient] = await Promise.all([runLoad(ctx.sharedDir, ctx.jsonDir, `attack-${scenarios.indexOf(scenario)}`, spec, server.child.pid, settings), probe]);
      const attack = await flood?.stop();
      if (scenario.attacker === undefined) alone = result;
      const ratio = alone === undefined ? Number.NaN : result.tokensPerSecond / alone.tokensPerSecond;
      const first = newClient.firstTokenSeconds;
      log(
        table.row([
          scenario.name,
          integer(result.tokensPerSecond),
          fixed(result.p99, 1),
          scenario.attacker === undefined ? '1.00' : fixed(ratio, 2),
          integer(result.non2xx + result.errors),
          first === undefined ? `> ${NEW_CLIENT_DEADLINE_S}` : fixed(first, 2),
          fixed(peakRssMb(server.child.pid), 1),
          attack === undefined ? '-' : counts(attack.outcomes),
        ]),
      );
      const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
      const firstOk = first !== undefined && first <= MAX_FIRST_TOKEN_S;
      const checks = [`${mark(firstOk)} new client's first token ${first === undefined ? 'never came' : `${fixed(first, 2)} s`} ≤ ${MAX_FIRST_TOKEN_S} s`];
      if (scenario.attacker !== undefined) {
        checks.unshift(
          `${mark(ratio >= KEEP_RATIO)} legit keeps ${fixed(ratio * 100, 0)} % of its tokens/s alone (≥ ${KEEP_RATIO * 100} %)`,
          `${mark(result.p99 <= MAX_P99_MS)} legit p99 ${fixed(result.p99, 1)} ms ≤ ${MAX_P99_MS}`,
        );
      }
      verdicts.push(`${scenario.name}: ${checks.join('; ')}`);
      notes.push(
        `${scenario.name}: new client ${newClient.createSeconds === undefined ? 'not created' : `created in ${fixed(newClient.createSeconds, 2)} s`}, answers on the way ${counts(newClient.answers)}` +
          (newClient.failure !== undefined ? ` (${newClient.failure})` : '') +
          `; server ${fixed(result.serverCores, 2)} cores, load.mjs ${fixed(result.loadgenCores, 2)}, other ${fixed(result.otherCores, 2)}`,
      );
      if (attack !== undefined) {
        notes.push(
          `${scenario.name}: attacker sent ${integer(attack.requests)} requests in ${fixed(attack.seconds, 1)} s ` +
            `(${integer(attack.requests / attack.seconds)}/s), answer time mean ${fixed(attack.meanAnswerMs, 1)} ms, max ${fixed(attack.maxAnswerMs, 0)} ms; ` +
            `the bench process (flood generator and new client) used ${fixed(attack.cores, 2)} cores`,
        );
      }
    } catch (error) {
      problems.push(`attack scenario "${scenario.name}" failed: ${error instanceof Error ? error.message : String(error)}`);
      log(`  ${problems.at(-1)}`);
    } finally {
      await flood?.stop();
      await server.child.stop();
    }
  }
  log();
  for (const verdict of verdicts) log(`targets, ${verdict}`);
  for (const note of notes) log(`  ${note}`);
  return problems;
}
