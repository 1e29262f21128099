import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { DrizzleQueryError, sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { connectDatabase, postgresPoolConfig } from '../../src/db/connect.js';
import { build, createTestDatabase, eventually, postToken } from '../helpers.js';

const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

/** The error a query failed with, unwrapped from Drizzle's DrizzleQueryError when it is one. */
async function failure(promise: Promise<unknown>): Promise<{ error: unknown; cause: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, cause: error instanceof DrizzleQueryError ? error.cause : error, ms: Date.now() - started };
  }
  throw new Error('expected the query to fail');
}

/** The TLS settings pg gets, as a plain object (pg-connection-string makes null-prototype ones). */
function sslOf(databaseUrl: string, databaseCa?: { file: string; pem: string }) {
  const { ssl } = postgresPoolConfig({ databaseUrl, databaseCa });
  return typeof ssl === 'object' ? { ...ssl } : ssl;
}

t.test('the pool settings made from the configuration', async (t) => {
  const base = 'postgres://portier:pw@db.internal:6432/portier';
  const plain = postgresPoolConfig({ databaseUrl: base });
  t.match(
    plain,
    { host: 'db.internal', port: 6432, user: 'portier', password: 'pw', database: 'portier' },
    'DATABASE_URL read as pg reads it',
  );
  t.match(
    plain,
    { max: 10, connectionTimeoutMillis: 5000, query_timeout: 10000, application_name: 'portier', keepAlive: true },
    'the defaults',
  );
  t.equal(plain.ssl, undefined, 'no sslmode: no TLS');

  const set = postgresPoolConfig({ databaseUrl: base, databasePoolSize: 3, databaseConnectTimeout: 250, databaseStatementTimeout: 1500 });
  t.match(set, { max: 3, connectionTimeoutMillis: 250, query_timeout: 1500 });
  t.equal(postgresPoolConfig({ databaseUrl: base, databaseStatementTimeout: 0 }).query_timeout, undefined, '0: no query timeout');
  t.equal(
    postgresPoolConfig({ databaseUrl: `${base}?application_name=auth-eu` }).application_name,
    'auth-eu',
    "the URL's application_name wins",
  );

  t.equal(postgresPoolConfig({ databaseUrl: `${base}?sslmode=disable` }).ssl, false, 'sslmode=disable');
  for (const mode of ['require', 'verify-ca', 'verify-full']) {
    t.strictSame(sslOf(`${base}?sslmode=${mode}`), {}, `sslmode=${mode}: TLS with Node's default checks`);
  }
  t.strictSame(sslOf(`${base}?sslmode=no-verify`), { rejectUnauthorized: false }, 'sslmode=no-verify');

  const databaseCa = { file: '/etc/portier/ca.pem', pem: '-----BEGIN CERTIFICATE-----\n…' };
  t.strictSame(sslOf(base, databaseCa), { ca: databaseCa.pem, rejectUnauthorized: true }, 'a CA file alone turns TLS on');
  t.strictSame(
    sslOf(`${base}?sslmode=verify-full`, databaseCa),
    { ca: databaseCa.pem, rejectUnauthorized: true },
    'with verify-full: checked against that CA',
  );
});

t.test('a database that accepts connections but never answers: the connect timeout', async (t) => {
  // A TCP listener that says nothing, like a database host that hangs after accept.
  const silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  silent.on('connection', (socket) => sockets.add(socket));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as net.AddressInfo;
  const database = await connectDatabase({ databaseUrl: `postgres://portier@127.0.0.1:${port}/portier`, databaseConnectTimeout: 300 });
  t.teardown(() => database.close());

  const query = await failure(database.ping());
  t.ok(query.ms >= 250 && query.ms < 2000, `a query fails after about the connect timeout (${query.ms} ms)`);
  t.type(query.error, DrizzleQueryError, 'a plain query: wrapped by Drizzle');
  t.equal((query.cause as Error).message, 'Connection terminated due to connection timeout', "pg-pool's message");
  t.equal(((query.cause as Error).cause as Error | undefined)?.message, 'Connection terminated unexpectedly', 'and its cause');

  const transaction = await failure(database.db.transaction(async () => {}));
  t.notOk(transaction.error instanceof DrizzleQueryError, 'a transaction: the pool error itself');
  t.equal((transaction.error as Error).message, 'Connection terminated due to connection timeout');
});

/**
 * A TCP proxy to the PostgreSQL server of DATABASE_URL that can be frozen: while frozen it
 * keeps every connection open and drops every byte, like a database that hangs or a
 * network that black-holes the traffic.
 */
async function freezableProxy(t: Test, target: URL) {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => frozen || upstream.write(chunk));
    upstream.on('data', (chunk) => frozen || client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
    },
  };
}

t.test(
  'a database that stops answering: requests fail after the statement timeout, and recover',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    const { databaseUrl } = await createTestDatabase(t);
    if (databaseUrl === undefined) throw new Error('expected a PostgreSQL database');
    const proxy = await freezableProxy(t, new URL(databaseUrl));
    const database = await connectDatabase({ databaseUrl: proxy.url, databaseStatementTimeout: 400, databaseConnectTimeout: 400 });
    t.teardown(() => database.close());
    const { app } = await build(t, { database });
    t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready');

    proxy.freeze();
    const query = await failure(database.ping());
    t.ok(query.ms >= 350 && query.ms < 2000, `a query fails after about the statement timeout (${query.ms} ms)`);
    t.type(query.error, DrizzleQueryError);
    t.equal((query.cause as Error).message, 'Query read timeout', "pg's client-side query timeout");
    t.equal((query.cause as { code?: unknown }).code, undefined, 'which has no SQLSTATE');

    const transaction = await failure(database.db.transaction(async (tx) => tx.execute(sql`SELECT 1`)));
    t.ok(transaction.ms < 2500, `a transaction fails too (${transaction.ms} ms): ${String((transaction.cause as Error).message)}`);

    let started = Date.now();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 503, `/readyz says unavailable (${Date.now() - started} ms)`);
    t.ok(Date.now() - started < 2000, 'within the timeouts');

    started = Date.now();
    const token = await postToken(app, { grant_type: 'client_credentials', client_id: 'nobody-known', client_secret: 'whatever-secret' });
    t.ok(token.statusCode >= 500, `a token request that needs the database fails (${token.statusCode}) instead of hanging`);
    t.ok(Date.now() - started < 3000, `within the timeouts (${Date.now() - started} ms)`);

    proxy.thaw();
    const recovered = await eventually(
      async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode,
      (status) => status === 200,
      5000,
    );
    t.equal(recovered, 200, 'ready again once the database answers');
  },
);

t.test('TLS to PostgreSQL, checked against DATABASE_CA_FILE', { skip: tlsSkipReason() }, async (t) => {
  const { databaseUrl } = await createTestDatabase(t);
  if (databaseUrl === undefined) throw new Error('expected a PostgreSQL database');
  const dir = mkdtempSync(join(tmpdir(), 'portier-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCertificates(dir);
  const proxy = await tlsProxy(t, new URL(databaseUrl), ca.server);
  const url = (host: string, query = '') => {
    const target = new URL(proxy.url);
    target.hostname = host;
    return `${target.toString()}${query}`;
  };

  const trusted = await connectDatabase({
    databaseUrl: url('localhost', '?sslmode=verify-full'),
    databaseCa: { file: ca.file, pem: ca.pem },
  });
  t.teardown(() => trusted.close());
  await trusted.ping();
  t.equal(proxy.handshakes(), 1, 'verify-full with the CA file: connected over TLS');

  const implied = await connectDatabase({ databaseUrl: url('localhost'), databaseCa: { file: ca.file, pem: ca.pem } });
  t.teardown(() => implied.close());
  await implied.ping();
  t.equal(proxy.handshakes(), 2, 'the CA file alone: TLS too');

  const unknownCa = await connectDatabase({ databaseUrl: url('localhost', '?sslmode=verify-full') });
  t.teardown(() => unknownCa.close());
  const refused = await failure(unknownCa.ping());
  t.match(
    String((refused.cause as Error).message),
    /self[- ]signed certificate|unable to verify/,
    'without the CA file: the certificate is refused',
  );

  const wrongHost = await connectDatabase({
    databaseUrl: url('127.0.0.1', '?sslmode=verify-full'),
    databaseCa: { file: ca.file, pem: ca.pem },
  });
  t.teardown(() => wrongHost.close());
  const mismatch = await failure(wrongHost.ping());
  t.match(
    String((mismatch.cause as Error).message),
    /Hostname\/IP does not match certificate's altnames/,
    'a certificate for another host name is refused',
  );
});

function tlsSkipReason(): string | false {
  if (!onPostgres) return 'needs DATABASE_URL (PostgreSQL)';
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'needs the openssl command to make test certificates';
  }
}

/** A CA, and a server certificate it signed for the name `localhost` only. */
function makeCertificates(dir: string) {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=Portier test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  openssl(['req', ...ec, '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName = DNS:localhost\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  ]);
  return {
    file: join(dir, 'ca.pem'),
    pem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    server: { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) },
  };
}

/**
 * Stands in for a PostgreSQL server with TLS: answers the client's SSLRequest with 'S',
 * terminates TLS with `certificate`, and passes the rest to the real server in clear.
 */
async function tlsProxy(t: Test, target: URL, certificate: { key: Buffer; cert: Buffer }) {
  let handshakes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.once('data', (first) => {
      // SSLRequest: length 8, then the code 80877103.
      if (first.length !== 8 || first.readInt32BE(4) !== 80877103) return client.destroy();
      client.write('S');
      const secure = new tls.TLSSocket(client, { isServer: true, ...certificate });
      secure.on('error', () => client.destroy());
      secure.once('secure', () => {
        handshakes++;
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        sockets.add(upstream);
        upstream.on('error', () => secure.destroy());
        secure.pipe(upstream).pipe(secure);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return { url: url.toString(), handshakes: () => handshakes };
}
