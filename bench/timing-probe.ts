// `npm run bench:timing`: can an outsider tell a known client_id from an unknown one by how
// long a wrong secret takes to be refused? A measurement, not a test: see bench/README.md.
//
// Starts Portier (`node dist/src/main.js`, as `npm run bench` does) on a fresh PostgreSQL
// database and on a fresh PGlite directory, and sends it, one at a time and in random
// order, PROBE_SAMPLES token requests with a wrong secret for the known client_id
// `bench-client` and as many for made-up client_ids (a fresh one each time, as a probe
// would), each from one of 250 loopback addresses (127.0.3.x) in turn so that no failure
// budget is reached. Warm: nothing else happens (the known client's record stays cached).
// Cold: each known sample names another client, made before the probe and never asked for
// a token, so the instance looks it up for the first time (as for a client that is seldom
// used; a change no longer drops the records it did not touch). For each, it prints the
// medians and the accuracy of a
// nearest-median classifier (2-fold: the threshold learnt on one half of the samples,
// judged on the other); 50 % is chance.
import { randomInt } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateClientId } from '../src/clients/rules.js';
import { generateOpaqueSecret } from '../src/clients/secrets.js';
import { busyCores } from './load.js';
import { cleanupAll, freePort, removeDirOnCleanup, runCommand } from './processes.js';
import { fixed, median } from './report.js';
import {
  basicAuthorization,
  type Credentials,
  createBenchDatabase,
  portierEnv,
  setUpPortierDatabase,
  startPortier,
  TOKEN_BODY,
} from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES = Number(process.env.PROBE_SAMPLES ?? 250);
const TARGETS = (process.env.PROBE_TARGETS ?? 'portier-pg,portier-pglite').split(',').map((name) => name.trim());
const PG_SERVER = process.env.BENCH_PG_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
/** How far apart the samples are sent: the probe measures one request at a time. */
const PAUSE_MS = 5;
/** The whole run; past it everything is stopped and removed. */
const DEADLINE_MS = 600_000;

const log = (line = '') => void process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

type Kind = 'known' | 'unknown';
type Condition = 'warm' | 'cold';

/** One token request on a fresh connection from `localAddress`; resolves with its status and milliseconds. */
function timedTokenRequest(url: URL, localAddress: string, authorization: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolveRequest, reject) => {
    const started = performance.now();
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/oauth/token',
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization, connection: 'close' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolveRequest({ status: response.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.end(TOKEN_BODY);
  });
}

/**
 * The accuracy of a nearest-median classifier, 2-fold: on each half, the medians of the
 * two kinds make the threshold (their midpoint) and say which side is which; it is judged
 * on the other half. Returns the mean accuracy of the two folds.
 */
function classifierAccuracy(samples: Record<Kind, number[]>): number {
  const half = (values: number[], parity: number) => values.filter((_, i) => i % 2 === parity);
  let correct = 0;
  let total = 0;
  for (const train of [0, 1]) {
    const known = median(half(samples.known, train));
    const unknown = median(half(samples.unknown, train));
    const threshold = (known + unknown) / 2;
    const knownIsSlower = known > unknown;
    const guess = (ms: number): Kind => (ms > threshold === knownIsSlower ? 'known' : 'unknown');
    for (const kind of ['known', 'unknown'] as const) {
      for (const ms of half(samples[kind], 1 - train)) {
        correct += guess(ms) === kind ? 1 : 0;
        total += 1;
      }
    }
  }
  return correct / total;
}

async function probe(name: string): Promise<void> {
  const port = await freePort();
  const admin: Credentials = { clientId: 'bench-admin', clientSecret: generateOpaqueSecret() };
  let env: NodeJS.ProcessEnv;
  if (name === 'portier-pg') {
    env = portierEnv({ port, alg: 'ES256', admin, databaseUrl: await createBenchDatabase(PG_SERVER) });
  } else {
    const parent = mkdtempSync(join(tmpdir(), 'portier-probe-pglite-'));
    removeDirOnCleanup(parent);
    env = portierEnv({ port, alg: 'ES256', admin, dataDir: join(parent, 'data') });
  }
  const { legit } = await setUpPortierDatabase(env);
  const server = await startPortier(name, ROOT, env, undefined);
  try {
    const base = new URL(server.baseUrl);
    const adminToken = await fetch(`${server.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(admin) },
      body: new URLSearchParams({ grant_type: 'client_credentials', audience: `${server.baseUrl}/admin`, scope: 'admin:write' }),
    }).then(async (response) => ((await response.json()) as { access_token: string }).access_token);
    /** Clients this instance has never looked up, one per cold sample of a known client_id. */
    const unseen: string[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const response = await fetch(`${server.baseUrl}/admin/clients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ name: `Timing probe ${i}`, owner: 'probe', grants: [{ service: 'bench-api', scopes: ['read'] }] }),
      });
      if (response.status !== 201) throw new Error(`creating a client answered ${response.status}: ${await response.text()}`);
      unseen.push(((await response.json()) as { client_id: string }).client_id);
    }

    let address = 0;
    const nextAddress = () => `127.0.3.${(address++ % 250) + 1}`;
    const sample = async (kind: Kind, condition: Condition) => {
      const clientId = kind === 'unknown' ? generateClientId() : condition === 'warm' ? legit.clientId : (unseen.pop() ?? '');
      const answer = await timedTokenRequest(base, nextAddress(), basicAuthorization({ clientId, clientSecret: generateOpaqueSecret() }));
      if (answer.status !== 401) throw new Error(`a wrong secret for ${kind} client_id answered ${answer.status}`);
      return answer.ms;
    };

    // Warm-up, untimed: the dummy hash, the key set, the JIT, the known client's record.
    for (let i = 0; i < 20; i++) await sample(i % 2 === 0 ? 'known' : 'unknown', 'warm');

    for (const condition of ['warm', 'cold'] as Condition[]) {
      const order: Kind[] = [...Array(SAMPLES).fill('known'), ...Array(SAMPLES).fill('unknown')];
      for (let i = order.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [order[i], order[j]] = [order[j] as Kind, order[i] as Kind];
      }
      const samples: Record<Kind, number[]> = { known: [], unknown: [] };
      for (const kind of order) {
        await sleep(PAUSE_MS);
        samples[kind].push(await sample(kind, condition));
      }
      const accuracy = classifierAccuracy(samples);
      const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)] ?? 0;
      log(
        `${name}, ${condition}: known ${fixed(median(samples.known), 2)} ms (p10 ${fixed(percentile(samples.known, 0.1), 2)}, p90 ${fixed(percentile(samples.known, 0.9), 2)}), ` +
          `unknown ${fixed(median(samples.unknown), 2)} ms (p10 ${fixed(percentile(samples.unknown, 0.1), 2)}, p90 ${fixed(percentile(samples.unknown, 0.9), 2)}); ` +
          `classifier accuracy ${fixed(accuracy * 100, 1)} % over ${SAMPLES} samples each (50 % is chance)`,
      );
    }
  } finally {
    await server.child.stop();
  }
}

async function main(): Promise<number> {
  log(`timing probe — ${new Date().toISOString()}, node ${process.version}; ${SAMPLES} samples per kind and condition`);
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    const build = await runCommand('npm run build', 'npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 120_000 });
    if (build.code !== 0) {
      log(`build failed (exit ${build.code}):\n${build.output}`);
      return 1;
    }
  }
  log(`machine before the probe: ${fixed(await busyCores(1_000), 2)} cores busy over 1 s (the figures mean little on a busy machine)`);
  for (const name of TARGETS) await probe(name);
  return 0;
}

setTimeout(() => {
  log('timing probe: deadline reached');
  void cleanupAll().then(() => process.exit(124));
}, DEADLINE_MS).unref();
process.on('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

let code = 1;
try {
  code = await main();
} catch (error) {
  process.stderr.write(`timing probe: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await cleanupAll();
}
process.exit(code);
