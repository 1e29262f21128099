// The credentials table (issue 28), on the running portier-pg: a client with five live
// secrets gets tokens at the rate of one with one (the secret names its credential: one
// argon2 verification, or none once remembered, however many it holds; verdict ≥ 0.97),
// and a flood of well-formed secrets with wrong checksums (from 127.0.0.2, at another
// client), from another generator at the same time, costs the legitimate client nothing measurable (refused before any database or
// argon2 work; verdict ≥ 0.95 of its rate alone). And the events' cost: with an admin
// changing a client 20 times a second, tokens with three webhooks subscribed to every event
// and a receiver on loopback against none (verdict ≥ 0.95), every event delivered to each.
// Prints the rows and the verdicts; returns the problems.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ATTACKER_ADDRESS } from './attack.js';
import { type DriveResult, drive, medianRun } from './drive.js';
import type { LoadSettings } from './load.js';
import { sleep } from './processes.js';
import { fixed, integer, RunTable, Table, verdict } from './report.js';
import { AUDIENCE, adminApi, type Credentials } from './targets.js';

type RowName = 'one secret' | 'five secrets' | 'alone' | 'beside a bad-checksum flood' | 'no webhooks' | 'three webhooks';

/** A secret of the self-identifying shape whose checksum is wrong: refused before any lookup. */
function badChecksumSecret(good: string): string {
  const last = good.at(-1) === 'A' ? 'B' : 'A';
  return `${good.slice(0, -1)}${last}`;
}

/** A webhook receiver on loopback that takes every delivery with 204 and counts them. */
async function startReceiver(): Promise<{ server: Server; url: string; received: () => number }> {
  let count = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      count += 1;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => count };
}

/** Changes a client's description every 50 ms while `during` runs: the events the webhooks carry. */
async function withAdminWrites<T>(
  patch: (description: string) => Promise<unknown>,
  during: () => Promise<T>,
): Promise<{ result: T; writes: number }> {
  let writes = 0;
  let running = true;
  const writer = (async () => {
    while (running) {
      await patch(`bench write ${writes}`);
      writes += 1;
      await sleep(50);
    }
  })();
  try {
    return { result: await during(), writes };
  } finally {
    running = false;
    await writer;
  }
}

export async function lifecycleTable(options: {
  baseUrl: string;
  issuer: string;
  serverPid: number;
  admin: Credentials;
  settings: LoadSettings;
  rounds: number;
  log: (line?: string) => void;
}): Promise<string[]> {
  const { baseUrl, issuer, settings, rounds, log } = options;
  const tokenUrl = `${baseUrl}/oauth/token`;
  const post = await adminApi(baseUrl, issuer, options.admin);
  const client = async (clientId: string) =>
    String(
      (
        await post('/admin/clients', {
          client_id: clientId,
          name: clientId,
          owner: 'bench',
          grants: [{ service: 'bench-api', scopes: ['read'] }],
        })
      ).client_secret,
    );
  const one = await client('bench-one-secret');
  const five = await client('bench-five-secrets');
  // Four more secrets, older ones first: the one used is the newest, the fifth.
  let newest = five;
  for (let i = 0; i < 4; i += 1) newest = String((await post('/admin/clients/bench-five-secrets/credentials', { kind: 'secret' })).secret);
  const body = (clientId: string, secret: string) =>
    new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, resource: AUDIENCE }).toString();
  const bodies = {
    one: body('bench-one-secret', one),
    five: body('bench-five-secrets', newest),
    bad: body('bench-five-secrets', badChecksumSecret(five)),
  };
  for (const [name, request] of [
    ['one', bodies.one],
    ['five', bodies.five],
  ] as const) {
    const answer = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: request,
    });
    if (answer.status !== 200) return [`lifecycle: the ${name}-secret client's token request answered ${answer.status}`];
  }

  const table = new Table([
    { title: 'row', align: 'left' },
    ...['round', 'tokens/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'server cores'].map((title) => ({ title })),
  ]);
  table.fit(['beside a bad-checksum flood', 'median']);
  const cells = (name: RowName, round: string, r: DriveResult) => [
    name,
    round,
    integer(r.tokensPerSecond),
    fixed(r.p50, 1),
    fixed(r.p99, 1),
    integer(r.non2xx),
    integer(r.errors),
    fixed(r.serverCores, 2),
  ];
  log(
    `credentials table: portier-pg, ${settings.connections} keep-alive connections from 127.0.0.1; ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s measured; ` +
      'one vs five live secrets (the newest used); the one-secret client alone, then beside as many connections from 127.0.0.2 flooding another client with wrong-checksum secrets',
  );
  const runs = new RunTable<RowName, DriveResult>(table, cells, log);
  runs.header();
  const run = (request: string, localAddresses?: string[]) =>
    drive({
      tokenUrl,
      nextBody: () => request,
      settings,
      serverPid: options.serverPid,
      ...(localAddresses !== undefined && { localAddresses }),
    });
  for (let round = 1; round <= rounds; round += 1) {
    runs.record('one secret', round, await run(bodies.one));
    runs.record('five secrets', round, await run(bodies.five));
    runs.record('alone', round, await run(bodies.one));
    // The flood comes from another address, at another client, as an attacker's would (the
    // failure budgets of the legitimate client's own address and client are not its target).
    const [legit] = await Promise.all([run(bodies.one), run(bodies.bad, [ATTACKER_ADDRESS])]);
    runs.record('beside a bad-checksum flood', round, legit);
  }
  // The events' cost: the same admin writes with no webhook, then with three.
  const receiver = await startReceiver();
  const patchClient = (description: string) => post('/admin/clients/bench-five-secrets', { description }, 'PATCH');
  let delivered = '';
  // Admin writes per second of measured load, each side: what the outbox costs the writer itself.
  const writeRate = { none: { writes: 0, seconds: 0 }, three: { writes: 0, seconds: 0 } };
  const timed = async (side: keyof typeof writeRate) => {
    const started = Date.now();
    const measured = await withAdminWrites(patchClient, () => run(bodies.one));
    writeRate[side].writes += measured.writes;
    writeRate[side].seconds += (Date.now() - started) / 1000;
    return measured;
  };
  try {
    for (let round = 1; round <= rounds; round += 1) runs.record('no webhooks', round, (await timed('none')).result);
    const hooks: string[] = [];
    for (let i = 0; i < 3; i += 1)
      hooks.push(String((await post('/admin/webhooks', { url: `${receiver.url}/hook-${i}`, types: ['*'] })).id));
    let writes = 0;
    const before = receiver.received();
    for (let round = 1; round <= rounds; round += 1) {
      const measured = await timed('three');
      writes += measured.writes;
      runs.record('three webhooks', round, measured.result);
    }
    // Each write is one event, delivered to each of the three (allow the outbox a few seconds).
    const deadline = Date.now() + 15_000;
    while (receiver.received() - before < writes * 3 && Date.now() < deadline) await sleep(200);
    delivered = `${receiver.received() - before} deliveries for ${writes} writes × 3 webhooks`;
    for (const id of hooks) await post(`/admin/webhooks/${id}`, { enabled: false }, 'PATCH');
  } finally {
    receiver.server.close();
  }
  const medians = runs.medians(medianRun);
  const rate = (name: RowName) => medians.get(name)?.tokensPerSecond ?? 0;
  log(verdict({ what: 'five secrets / one secret tokens/s', ratio: rate('five secrets') / rate('one secret'), bar: 0.97 }));
  log(
    verdict({
      what: 'legitimate client beside the flood / alone tokens/s',
      ratio: rate('beside a bad-checksum flood') / rate('alone'),
      bar: 0.95,
    }),
  );
  log(
    verdict({
      what: 'three webhooks / no webhooks tokens/s (admin writes 20/s)',
      ratio: rate('three webhooks') / rate('no webhooks'),
      bar: 0.95,
    }),
  );
  const perSecond = (side: keyof typeof writeRate) => writeRate[side].writes / Math.max(writeRate[side].seconds, 1e-9);
  log(
    `admin writes/s: ${fixed(perSecond('three'), 1)} with three webhooks, ${fixed(perSecond('none'), 1)} with none (${fixed(perSecond('three') / perSecond('none'), 2)})`,
  );
  log(`events: ${delivered}`);
  return [];
}
