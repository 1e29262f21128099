import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { CONFIG_VARIABLES } from '../src/config.js';
import { basicAuth, createTestDatabase, freePort, seededDataDir } from './helpers.js';

/**
 * The real process, as an operator starts it: `node --import tsx src/main.ts` with its
 * configuration in the environment. Bad configuration, a restart on the same data, and
 * SIGTERM draining a request that is still arriving.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ON_POSTGRES = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

/** Every variable Portier reads, and the loader tap sets for its own children. */
const INHERITED_NOT: readonly string[] = [...CONFIG_VARIABLES, 'NODE_OPTIONS'];

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (INHERITED_NOT.includes(name) || name.startsWith('TAP') || name.startsWith('_TAPJS')) continue;
    base[name] = value;
  }
  return { ...base, ...env };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running (or finished) Portier process and everything it printed. */
class PortierProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private readonly listeners = new Set<() => void>();

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      for (const listener of this.listeners) listener();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        resolve({ code, signal });
        for (const listener of this.listeners) listener();
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The JSON log lines written to stdout so far. */
  logLines(): Array<Record<string, unknown>> {
    return this.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Resolves with the first log line whose msg is `msg`; rejects if the process ends first. */
  waitForLog(msg: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.stdout
          .split('\n')
          .filter((text) => text.startsWith('{') && text.endsWith('}'))
          .map((text) => JSON.parse(text) as Record<string, unknown>)
          .find((entry) => entry.msg === msg);
        if (line !== undefined) {
          this.listeners.delete(check);
          resolve(line);
        } else if (!this.running) {
          this.listeners.delete(check);
          reject(new Error(`portier exited before logging "${msg}"; stderr: ${this.stderr}`));
        }
      };
      this.listeners.add(check);
      check();
    });
  }

  ready(): Promise<Record<string, unknown>> {
    return this.waitForLog('portier is ready');
  }

  async stop(): Promise<Exit> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Starts Portier; at teardown, kills it if the test left it running. */
function startPortier(t: Test, env: Record<string, string>): PortierProcess {
  const portier = new PortierProcess(env);
  t.teardown(async () => {
    if (portier.running) {
      portier.child.kill('SIGKILL');
      await portier.exited;
    }
  });
  return portier;
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'portier-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Where the process keeps its data: a fresh PostgreSQL database, or a DATA_DIR that holds a
 * migrated cluster already (the very first start, initdb included, is the restart test's).
 */
async function storageEnv(t: Test): Promise<Record<string, string>> {
  if (ON_POSTGRES) {
    const { databaseUrl } = await createTestDatabase(t);
    return { DATABASE_URL: databaseUrl ?? '' };
  }
  return { DATA_DIR: await seededDataDir(t) };
}

async function requestToken(origin: string, clientId: string, clientSecret: string, form: Record<string, string> = {}) {
  const res = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, clientSecret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** stdout is pino JSON, one object per line, and holds none of the given secrets. */
function checkLogs(t: Test, portier: PortierProcess, secrets: string[]): void {
  const lines = portier.stdout.split('\n').filter((line) => line.trim() !== '');
  t.ok(lines.length > 0, 'the process logged');
  t.ok(
    lines.every((line) => {
      try {
        return typeof JSON.parse(line) === 'object';
      } catch {
        return false;
      }
    }),
    'every stdout line is a JSON log object',
  );
  for (const secret of secrets) {
    t.notOk(portier.stdout.includes(secret), `the log does not contain ${secret.slice(0, 12)}…`);
    t.notOk(portier.stderr.includes(secret), `stderr does not contain ${secret.slice(0, 12)}…`);
  }
  t.notMatch(portier.stdout, /Basic [A-Za-z0-9+/=]{8,}|Bearer [A-Za-z0-9._-]{8,}/, 'no Authorization header value');
}

t.test('bad configuration: exit 1 with one line naming the variable', async (t) => {
  const dataDir = join(tempDir(t), 'never-created');
  const cases: Array<[Record<string, string>, string]> = [
    [{ SIGNING_ALG: 'HS256' }, 'SIGNING_ALG'],
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ KEY_ENCRYPTION_KEY: 'short' }, 'KEY_ENCRYPTION_KEY'],
    [{ KEY_ENCRYPTION_KEY: 'not base64!' }, 'KEY_ENCRYPTION_KEY'],
    [{ KEY_ENCRYPTION_KEY: `${'A'.repeat(43)}=`, KEY_ENCRYPTION_KEY_PREVIOUS: 'short' }, 'KEY_ENCRYPTION_KEY_PREVIOUS'],
    [{ KEY_ROTATION_DAYS: 'weekly' }, 'KEY_ROTATION_DAYS'],
    [{ ACCESS_TOKEN_TTL: '5' }, 'ACCESS_TOKEN_TTL'],
    [{ ISSUER: 'ftp://portier.example' }, 'ISSUER'],
    [{ TRUST_PROXY: 'the-load-balancer' }, 'TRUST_PROXY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ DATABASE_URL: 'mysql://root@localhost/portier' }, 'DATABASE_URL'],
    [{ BOOTSTRAP_ADMIN_CLIENT_ID: 'ops-admin' }, 'BOOTSTRAP_ADMIN_CLIENT_SECRET'],
    [{ BOOTSTRAP_ADMIN_CLIENT_ID: 'ops-admin', BOOTSTRAP_ADMIN_CLIENT_SECRET: 'tooShortSecret' }, 'BOOTSTRAP_ADMIN_CLIENT_SECRET'],
  ];
  // Each is a process that stops during configuration; run a few at a time.
  const runs: Array<Promise<{ portier: PortierProcess; exit: Exit }>> = [];
  const run = (index: number) => {
    const portier = startPortier(t, { DATA_DIR: dataDir, PORT: '0', ...cases[index]?.[0] });
    return portier.exited.then((exit) => ({ portier, exit }));
  };
  const CONCURRENCY = 3;
  for (const [index] of cases.entries()) {
    const previous = runs[index - CONCURRENCY];
    runs.push(previous === undefined ? run(index) : previous.then(() => run(index)));
  }
  for (const [index, [env, variable]] of cases.entries()) {
    const { portier, exit } = await (runs[index] as (typeof runs)[number]);
    const label = Object.entries(env)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ');
    t.test(label, async (t) => {
      t.same(exit, { code: 1, signal: null }, 'exit status 1');
      const lines = portier.stderr.split('\n').filter((line) => line !== '');
      t.equal(lines.length, 1, `exactly one stderr line: ${JSON.stringify(portier.stderr)}`);
      t.ok(portier.stderr.endsWith('\n'), 'the line is terminated');
      t.match(lines[0] ?? '', variable, `it names ${variable}`);
      t.notMatch(portier.stdout, /portier is ready/, 'never got ready');
      const secret = env.BOOTSTRAP_ADMIN_CLIENT_SECRET;
      if (secret !== undefined) t.notOk(portier.stderr.includes(secret), 'the secret is not echoed');
    });
  }
  t.notOk(existsSync(dataDir), 'no data directory was created');
});

t.test(
  'restart on the same DATA_DIR keeps clients and signing keys',
  { skip: ON_POSTGRES ? 'PGlite (DATA_DIR) only' : false },
  async (t) => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const adminId = 'ops-admin';
    const adminSecret = `adm_${randomBytes(24).toString('base64url')}`;
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: origin,
      DATA_DIR: join(tempDir(t), 'data'),
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      BOOTSTRAP_ADMIN_CLIENT_ID: adminId,
      BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
      LOG_LEVEL: 'info',
    };
    const secrets = [adminSecret, env.KEY_ENCRYPTION_KEY];

    // First life: create a service and a client through the admin API, get a token.
    const first = startPortier(t, env);
    await first.ready();
    const adminToken = await requestToken(origin, adminId, adminSecret, { resource: `${origin}/admin`, scope: 'admin:write' });
    t.equal(adminToken.status, 200, 'the bootstrap admin gets an admin token');
    const bearer = String(adminToken.body.access_token);
    secrets.push(bearer);
    const admin = (path: string, body: unknown) =>
      fetch(`${origin}/admin${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const service = await admin('/services', { id: 'events', name: 'Events', audience: 'https://events.example', scopes: ['events:read'] });
    t.equal(service.status, 201, 'service created');
    const created = await admin('/clients', {
      client_id: 'vendor-one',
      name: 'Vendor one',
      owner: 'user-1',
      grants: [{ service: 'events', scopes: ['events:read'] }],
    });
    t.equal(created.status, 201, 'client created');
    const client = (await created.json()) as { client_secret: string; service_account: { id: string } };
    secrets.push(client.client_secret);

    const before = await requestToken(origin, 'vendor-one', client.client_secret);
    t.equal(before.status, 200, 'the new client gets a token');
    const tokenBefore = String(before.body.access_token);
    secrets.push(tokenBefore);
    const jwksBefore = (await (await fetch(`${origin}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    t.equal(jwksBefore.keys.length, 1);
    const kid = jwksBefore.keys[0]?.kid;
    t.equal(decodeProtectedHeader(tokenBefore).kid, kid);

    t.same(await first.stop(), { code: 0, signal: null }, 'SIGTERM: exit 0');
    t.ok(
      first.logLines().some((line) => line.msg === 'stopped'),
      'logged "stopped"',
    );

    // Second life on the same DATA_DIR (and port).
    const second = startPortier(t, env);
    await second.ready();
    const bootstrap = second.logLines().find((line) => line.msg === 'bootstrap admin client checked');
    t.equal(bootstrap?.outcome, 'unchanged', 'the bootstrap admin was found as it was');
    const after = await requestToken(origin, 'vendor-one', client.client_secret);
    t.equal(after.status, 200, 'the same client, with the same secret, still gets a token');
    const tokenAfter = String(after.body.access_token);
    secrets.push(tokenAfter);
    t.equal(decodeJwt(tokenAfter).sub, client.service_account.id, 'same subject');
    t.equal(decodeJwt(tokenAfter).sub, decodeJwt(tokenBefore).sub);
    t.equal(decodeProtectedHeader(tokenAfter).kid, kid, 'signed with the same key');
    const jwksAfter = (await (await fetch(`${origin}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    t.same(jwksAfter, jwksBefore, 'the JWKS is unchanged');
    // A resource server holding the first token can still verify it.
    const { payload } = await jwtVerify(tokenBefore, createLocalJWKSet(jwksAfter), { issuer: origin, audience: 'https://events.example' });
    t.equal(payload.client_id, 'vendor-one');
    const adminAgain = await requestToken(origin, adminId, adminSecret, { resource: `${origin}/admin` });
    t.equal(adminAgain.status, 200, 'the bootstrap admin still gets a token');
    secrets.push(String(adminAgain.body.access_token));

    t.same(await second.stop(), { code: 0, signal: null }, 'SIGTERM: exit 0');
    t.equal(first.stderr, '', 'nothing on stderr (first life)');
    t.equal(second.stderr, '', 'nothing on stderr (second life)');
    checkLogs(t, first, secrets);
    checkLogs(t, second, secrets);
  },
);

/** Reads one complete HTTP response (after any 1xx interim responses) from a raw socket. */
class RawResponse {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  ended = false;

  constructor(socket: import('node:net').Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    const end = () => {
      this.ended = true;
      this.waiter?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Resolves when `ready(buffer)` returns something other than undefined. */
  private until<T>(ready: (buffer: Buffer) => T | undefined, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const result = ready(this.buffer);
        if (result !== undefined) {
          this.waiter = undefined;
          resolve(result);
        } else if (this.ended) {
          this.waiter = undefined;
          reject(new Error(`connection ended before ${what}; got ${JSON.stringify(this.buffer.toString())}`));
        }
      };
      this.waiter = check;
      check();
    });
  }

  /** The interim `100 Continue`, consumed from the buffer. */
  async continue(): Promise<string> {
    const line = await this.until((buffer) => {
      const end = buffer.indexOf('\r\n\r\n');
      return end < 0 ? undefined : buffer.subarray(0, end).toString();
    }, '100 Continue');
    this.buffer = this.buffer.subarray(line.length + 4);
    return line;
  }

  final(): Promise<{ statusLine: string; headers: Record<string, string>; body: string }> {
    return this.until((buffer) => {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return undefined;
      const [statusLine = '', ...headerLines] = buffer.subarray(0, headerEnd).toString().split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length']);
      if (!Number.isInteger(length)) throw new Error(`no content-length in ${statusLine}`);
      const body = buffer.subarray(headerEnd + 4);
      if (body.length < length) return undefined;
      return { statusLine, headers, body: body.subarray(0, length).toString() };
    }, 'a complete response');
  }
}

t.test('SIGTERM drains a request whose body is still arriving, then exits 0, closing the management port too', async (t) => {
  const port = await freePort();
  const managementPort = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const adminId = 'ops-admin';
  const adminSecret = `adm_${randomBytes(24).toString('base64url')}`;
  const portier = startPortier(t, {
    PORT: String(port),
    HOST: '127.0.0.1',
    MANAGEMENT_PORT: String(managementPort),
    MANAGEMENT_HOST: '127.0.0.1',
    ISSUER: origin,
    BOOTSTRAP_ADMIN_CLIENT_ID: adminId,
    BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
    LOG_LEVEL: 'debug',
    ...(await storageEnv(t)),
  });
  const ready = await portier.ready();
  t.equal(ready.management, `127.0.0.1:${managementPort}`, 'the ready line names the management address');
  const metrics = await fetch(`http://127.0.0.1:${managementPort}/metrics`);
  t.equal(metrics.status, 200, '/metrics on the management port');
  await metrics.arrayBuffer();

  // client_secret_post: the secret travels in the body, split across the signal.
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: adminId,
    client_secret: adminSecret,
    resource: `${origin}/admin`,
    scope: 'admin:read',
  }).toString();
  const half = Math.floor(body.length / 2);
  const socket = connect({ port, host: '127.0.0.1' });
  t.teardown(() => {
    socket.destroy();
  });
  const response = new RawResponse(socket);
  socket.write(
    [
      'POST /oauth/token HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/x-www-form-urlencoded',
      `Content-Length: ${Buffer.byteLength(body)}`,
      // The 100 Continue proves the server has read the headers and handed the request on.
      'Expect: 100-continue',
      '',
      '',
    ].join('\r\n'),
  );
  t.match(await response.continue(), /^HTTP\/1\.1 100 Continue/, 'the server is handling the request');
  socket.write(body.slice(0, half));

  portier.child.kill('SIGTERM');
  // Once this line is out, the server is closing: the rest of the body arrives after that.
  await portier.waitForLog('draining in-flight requests');
  socket.write(body.slice(half));

  const final = await response.final();
  t.match(final.statusLine, /^HTTP\/1\.1 200 /, 'the in-flight request is answered 200');
  const json = JSON.parse(final.body) as { access_token: string; token_type: string };
  t.equal(json.token_type, 'Bearer');
  t.equal(decodeJwt(json.access_token).client_id, adminId, 'with a real token');
  t.equal(final.headers['cache-control'], 'no-store');

  t.same(await portier.exited, { code: 0, signal: null }, 'then the process exits 0');
  const refused = await fetch(`http://127.0.0.1:${managementPort}/healthz`).then(
    () => false,
    () => true,
  );
  t.ok(refused, 'the management port is closed too');
  const messages = portier.logLines().map((line) => line.msg);
  t.ok(messages.indexOf('draining in-flight requests') < messages.indexOf('stopped'), 'logged draining, then stopped');
  t.equal(portier.stderr, '', 'nothing on stderr');
  checkLogs(t, portier, [adminSecret, json.access_token, encodeURIComponent(adminSecret)]);
});
