// The token exchange table: what a token exchange (RFC 8693) costs next to the client
// credentials grant, on the running portier-pg, the same client (a secret in the body,
// remembered after its first verification) asking in both rows, the same generator
// driving both in turn. The exchange adds the subject token's check (signature, claims,
// revocation) and the exchange policy; the verdict asks for ≥ 0.8 of client credentials.

import { cpus } from 'node:os';
import { decodeJwt } from 'jose';
import { type DriveResult, drive, medianRun } from './drive.js';
import type { LoadSettings } from './load.js';
import { fixed, integer, RunTable, Table, verdict } from './report.js';
import { AUDIENCE, adminApi, type Credentials } from './targets.js';

const LEDGER = { id: 'bench-ledger', audience: 'https://ledger.bench.example', scopes: ['read'] };
type RowName = 'client_credentials' | 'token_exchange';

/** Portier's CPU per token in the measured window, in ms: what a token costs the server whatever else the machine does. */
function serverMsPerToken(r: DriveResult): number {
  return r.tokensPerSecond > 0 ? (r.serverCores * 1000) / r.tokensPerSecond : Number.NaN;
}

/**
 * Registers a vendor (granted the bench API) and an orders service (granted the ledger, and
 * allowed to act for the vendor there), gets the vendor's token, checks that each row's
 * request gets a token, then drives the rows in turn, `rounds` times, and prints the rows,
 * the medians and the verdict. Returns the problems.
 */
export async function exchangeTable(options: {
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
  await post('/admin/services', { ...LEDGER, name: 'Bench ledger' });
  const vendor = await post('/admin/clients', {
    client_id: 'bench-vendor',
    name: 'bench-vendor',
    owner: 'bench',
    grants: [{ service: 'bench-api', scopes: ['read'] }],
  });
  const orders = await post('/admin/clients', {
    client_id: 'bench-orders',
    name: 'bench-orders',
    owner: 'bench',
    grants: [{ service: LEDGER.id, scopes: ['read'], exchange: { subjects: ['bench-vendor'] } }],
  });
  const vendorAnswer = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'bench-vendor',
      client_secret: String(vendor.client_secret),
      resource: AUDIENCE,
    }),
  });
  if (vendorAnswer.status !== 200) return [`exchange: the vendor's token request answered ${vendorAnswer.status}`];
  const vendorToken = ((await vendorAnswer.json()) as { access_token: string }).access_token;
  const auth = { client_id: 'bench-orders', client_secret: String(orders.client_secret), resource: LEDGER.audience };
  const bodies: Record<RowName, string> = {
    client_credentials: new URLSearchParams({ grant_type: 'client_credentials', ...auth }).toString(),
    token_exchange: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: vendorToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      ...auth,
    }).toString(),
  };
  for (const [name, body] of Object.entries(bodies)) {
    const response = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const text = await response.text();
    if (response.status !== 200) return [`exchange: the ${name} request answered ${response.status}: ${text.slice(0, 200)}`];
    const claims = decodeJwt((JSON.parse(text) as { access_token: string }).access_token);
    if (claims.aud !== LEDGER.audience) return [`exchange: the ${name} token has the wrong audience`];
    if (name === 'token_exchange' && claims.client_id !== 'bench-vendor') return ['exchange: the exchanged token is not the vendor’s'];
  }

  const table = new Table([
    { title: 'grant', align: 'left' },
    ...['round', 'tokens/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'server cores', 'server ms/token', 'generator cores'].map(
      (title) => ({
        title,
      }),
    ),
  ]);
  table.fit(['client_credentials', 'median']);
  const cells = (name: RowName, round: string, r: DriveResult) => [
    name,
    round,
    integer(r.tokensPerSecond),
    fixed(r.p50, 1),
    fixed(r.p99, 1),
    integer(r.non2xx),
    integer(r.errors),
    fixed(r.serverCores, 2),
    fixed(serverMsPerToken(r), 3),
    fixed(r.generatorCores, 2),
  ];
  log(
    `token exchange table: portier-pg, ${settings.connections} keep-alive connections from 127.0.0.1 (this process), ${settings.warmupSeconds} s warm-up + ` +
      `${settings.durationSeconds} s measured; the same client (client_secret_post) in both rows; token_exchange: the vendor's token exchanged for the ledger`,
  );
  const runs = new RunTable<RowName, DriveResult>(table, cells, log);
  runs.header();
  for (let round = 1; round <= rounds; round += 1) {
    for (const name of ['client_credentials', 'token_exchange'] as const) {
      const body = bodies[name];
      runs.record(name, round, await drive({ tokenUrl, nextBody: () => body, settings, serverPid: options.serverPid }));
    }
  }
  const medians = runs.medians(medianRun);
  const exchanged = medians.get('token_exchange');
  const plain = medians.get('client_credentials');
  if (exchanged !== undefined && plain !== undefined) {
    const ratio = exchanged.tokensPerSecond / plain.tokensPerSecond;
    log(
      verdict({
        what: 'token exchange',
        ratio,
        unit: '× client credentials tokens/s',
        bar: 0.8,
        pass: ratio >= 0.8 && exchanged.non2xx + exchanged.errors === 0,
        note: `; ${cpus().length} cores`,
      }),
    );
    // On a busy machine the server is rarely saturated and tokens/s follow the other jobs;
    // its CPU per token does not, and is the ratio a saturated server would show.
    log(
      `server CPU per token: client credentials ${fixed(serverMsPerToken(plain), 3)} ms ÷ token exchange ${fixed(serverMsPerToken(exchanged), 3)} ms = ` +
        `${fixed(serverMsPerToken(plain) / serverMsPerToken(exchanged), 2)} (informative, not the verdict)`,
    );
  }
  return [];
}
