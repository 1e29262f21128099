// The federation table: what a token costs a federated client (a platform's JWT checked
// against a trusted issuer's cached key) next to a private_key_jwt client (its own signed
// assertion, whose jti is recorded once in the database), on the running portier-pg, the
// same generator driving both rows in turn.

import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type DriveResult, drive, medianRun } from './drive.js';
import type { LoadSettings } from './load.js';
import { fixed, integer, RunTable, Table, verdict } from './report.js';
import { AUDIENCE, adminApi, type Credentials } from './targets.js';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The platform of the bench: its keys given inline, so the issuer's key is cached from the first request on. */
const PLATFORM = { id: 'bench-platform', issuer: 'https://platform.bench.example', subject: 'system:serviceaccount:bench:worker' };
/** Assertions signed ahead per second of a private_key_jwt run (each is good for one request): more than Portier answers here. */
const ASSERTIONS_PER_SECOND = 8_000;
/** Both rows sign with this: the comparison is of what happens around the signature check, not of two algorithms. */
const ASSERTION_ALG = 'ES256';

type RowName = 'private_key_jwt' | 'federated';

interface RowResult extends DriveResult {
  /** private_key_jwt: the run used up the assertions signed for it (its figures are then too low). */
  exhausted: boolean;
}

const tokenBody = (assertion: string) =>
  new URLSearchParams({
    grant_type: 'client_credentials',
    resource: AUDIENCE,
    scope: 'read',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
  }).toString();

/**
 * Registers the two clients through the admin API (a trusted issuer with inline keys and a
 * federated client; a private_key_jwt client), checks that each gets a token, then drives
 * them in turn, `rounds` times, and prints the rows, the medians and the verdict: the
 * federated client's tokens/s at least the private_key_jwt client's. Returns the problems.
 */
export async function federationTable(options: {
  baseUrl: string;
  /** Portier's ISSUER: the platform tokens' audience, and the assertions'. */
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
  const grants = [{ service: 'bench-api', scopes: ['read', 'write'] }];

  const platform = await generateKeyPair(ASSERTION_ALG, { extractable: true });
  await post('/admin/trusted-issuers', {
    id: PLATFORM.id,
    issuer: PLATFORM.issuer,
    jwks: { keys: [{ ...(await exportJWK(platform.publicKey)), kid: 'platform-1', alg: ASSERTION_ALG }] },
  });
  await post('/admin/clients', {
    client_id: 'bench-federated',
    name: 'bench-federated',
    owner: 'bench',
    grants,
    auth_method: 'federated',
    federated_identities: [{ issuer: PLATFORM.id, subject: PLATFORM.subject }],
  });
  const clientKey = await generateKeyPair(ASSERTION_ALG, { extractable: true });
  await post('/admin/clients', {
    client_id: 'bench-jwt',
    name: 'bench-jwt',
    owner: 'bench',
    grants,
    auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...(await exportJWK(clientKey.publicKey)), kid: 'client-1', alg: ASSERTION_ALG }] },
  });

  // A Kubernetes-shaped platform token, presented again on every request (as a pod does for an hour).
  const now = Math.floor(Date.now() / 1000);
  const platformToken = await new SignJWT({
    iss: PLATFORM.issuer,
    sub: PLATFORM.subject,
    aud: [issuer],
    iat: now,
    nbf: now,
    exp: now + 3600,
    jti: randomUUID(),
    'kubernetes.io': {
      namespace: 'bench',
      serviceaccount: { name: 'worker', uid: randomUUID() },
      pod: { name: 'worker-0', uid: randomUUID() },
    },
  })
    .setProtectedHeader({ alg: ASSERTION_ALG, kid: 'platform-1' })
    .sign(platform.privateKey);
  const federatedBody = tokenBody(platformToken);
  const clientAssertion = () => {
    const at = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: 'bench-jwt', sub: 'bench-jwt', aud: issuer, jti: randomUUID(), iat: at, exp: at + 240 })
      .setProtectedHeader({ alg: ASSERTION_ALG, kid: 'client-1' })
      .sign(clientKey.privateKey);
  };

  for (const [name, body] of [
    ['federated', federatedBody],
    ['private_key_jwt', tokenBody(await clientAssertion())],
  ] as const) {
    const response = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const text = await response.text();
    if (response.status !== 200)
      return [`federation: the ${name} client's first token request answered ${response.status}: ${text.slice(0, 200)}`];
    const claims = decodeJwt((JSON.parse(text) as { access_token: string }).access_token);
    if (claims.aud !== AUDIENCE) return [`federation: the ${name} client's token has the wrong audience`];
  }

  const table = new Table([
    { title: 'client', align: 'left' },
    ...['round', 'tokens/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'server cores', 'generator cores'].map((title) => ({ title })),
  ]);
  table.fit(['private_key_jwt', 'median']);
  const cells = (name: RowName, round: string, r: RowResult) => [
    name,
    round,
    integer(r.tokensPerSecond),
    fixed(r.p50, 1),
    fixed(r.p99, 1),
    integer(r.non2xx),
    integer(r.errors),
    fixed(r.serverCores, 2),
    fixed(r.generatorCores, 2),
  ];
  log(
    `federation table: portier-pg, ${settings.connections} keep-alive connections from 127.0.0.1 (this process), ${settings.warmupSeconds} s warm-up + ` +
      `${settings.durationSeconds} s measured; ${ASSERTION_ALG} for both; private_key_jwt: a fresh assertion per request (signed ahead), ` +
      'federated: one Kubernetes-shaped platform token presented again and again, its issuer key cached',
  );
  const runs = new RunTable<RowName, RowResult>(table, cells, log);
  runs.header();
  const problems: string[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const name of ['private_key_jwt', 'federated'] as const) {
      let exhausted = false;
      let next: () => string | undefined;
      if (name === 'federated') next = () => federatedBody;
      else {
        const count = Math.ceil((settings.warmupSeconds + settings.durationSeconds) * ASSERTIONS_PER_SECOND);
        const pool: string[] = [];
        for (let i = 0; i < count; i += 1) pool.push(tokenBody(await clientAssertion()));
        let used = 0;
        next = () => {
          if (used < pool.length) return pool[used++];
          exhausted = true;
          return undefined;
        };
      }
      const result = { ...(await drive({ tokenUrl, nextBody: next, settings, serverPid: options.serverPid })), exhausted };
      if (exhausted) problems.push(`federation: round ${round} used up its ${name} assertions; raise ASSERTIONS_PER_SECOND`);
      runs.record(name, round, result);
    }
  }
  const medians = runs.medians(medianRun);
  const federated = medians.get('federated');
  const keyJwt = medians.get('private_key_jwt');
  if (federated !== undefined && keyJwt !== undefined) {
    const ratio = federated.tokensPerSecond / keyJwt.tokensPerSecond;
    log(
      verdict({
        what: 'federated',
        ratio,
        unit: '× private_key_jwt tokens/s',
        bar: 1,
        pass: ratio >= 1 && federated.non2xx + federated.errors === 0,
        note: ` (a cached issuer key costs no more than an assertion); ${cpus().length} cores`,
      }),
    );
  }
  return problems;
}
