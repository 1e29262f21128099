/**
 * What stands between Portier and PostgreSQL in the database tests: a TCP relay that a test
 * stops and starts (an outage: connections refused, open ones cut), and a PgBouncer of the
 * test's own in transaction pooling (Debian's `pgbouncer` program).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Test } from 'tap';
import { freePort, sleep } from '../helpers.js';

export interface Relay {
  /** The target's URL, with the relay's host and port. */
  url: string;
  start(): Promise<void>;
  /** Refuses new connections and cuts the open ones, as a stopped server would. */
  stop(): Promise<void>;
}

/** A TCP relay to PostgreSQL at `target` that can be stopped and started again (on the same port). */
export async function startRelay(t: Test, target: URL): Promise<Relay> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const start = async () => {
    if (server !== undefined) return;
    server = createServer((client) => {
      const upstream = connect({ host: target.hostname, port: Number(target.port || 5432) });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    if (address !== null && typeof address === 'object') port = address.port;
  };
  const stop = async () => {
    const closing = new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    for (const socket of sockets) socket.destroy();
    await closing;
    server = undefined;
  };
  await start();
  t.teardown(stop);
  const url = new URL(target);
  url.port = String(port);
  url.hostname = '127.0.0.1';
  return { url: url.toString(), start, stop };
}

/** Debian puts pgbouncer in /usr/sbin, which is not on every PATH. */
export const pgbouncerProgram: string | undefined = ['pgbouncer', '/usr/sbin/pgbouncer'].find(
  (candidate) => spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0,
);

/** Why a PgBouncer test cannot run here, or false when it can. */
export function pgbouncerSkipReason(): string | false {
  if (process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '') return 'needs DATABASE_URL (PostgreSQL)';
  if (pgbouncerProgram === undefined) return 'needs the pgbouncer program (apt-get install pgbouncer)';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) {
    return 'PgBouncer will not run as root, and there is no postgres user to run it as';
  }
  return false;
}

/**
 * A PgBouncer of our own in front of the PostgreSQL server of `target`: transaction
 * pooling, a free port, fewer server connections than the instances' pools together (so
 * that consecutive transactions of one client do land on different server connections),
 * and the credentials of `target` towards PostgreSQL. `settings` adds or overrides lines
 * of its [pgbouncer] section.
 */
export async function startPgbouncer(t: Test, target: URL, settings: Record<string, string> = {}): Promise<{ url: string }> {
  const program = pgbouncerProgram;
  if (program === undefined) throw new Error('pgbouncer is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'portier-pgbouncer-'));
  const port = await freePort();
  const user = decodeURIComponent(target.username) || 'postgres';
  const password = decodeURIComponent(target.password);
  const server = [
    `host=${target.hostname}`,
    `port=${target.port || 5432}`,
    `user=${user}`,
    ...(password ? [`password=${password}`] : []),
  ].join(' ');
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  const section = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: join(dir, 'userlist.txt'),
    pool_mode: 'transaction',
    default_pool_size: '4',
    max_client_conn: '200',
    ...settings,
  };
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    ['[databases]', `* = ${server}`, '[pgbouncer]', ...Object.entries(section).map(([key, value]) => `${key} = ${value}`), ''].join('\n'),
  );
  // Readable by the user PgBouncer switches to when started as root.
  chmodSync(dir, 0o755);
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', join(dir, 'pgbouncer.ini')] : [join(dir, 'pgbouncer.ini')];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(kill);
    rmSync(dir, { recursive: true, force: true });
  });

  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  url.password = '';
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url.toString() });
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`PgBouncer did not start: ${String(error)}\n${log}`);
      await sleep(100);
    }
  }
  return { url: url.toString() };
}
