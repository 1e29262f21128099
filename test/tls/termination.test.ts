import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { TLS_WATCH_INTERVAL_MS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { build, captureLogs, eventually, ISSUER, type TestLike, testConfig } from '../helpers.js';
import { type Certificate, makeCa, serverCertificate } from '../pki.js';

/**
 * Portier terminating TLS (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE), over real TLS
 * sockets on loopback: the configuration's errors name the file, HTTPS serves with a
 * client certificate or without, and a reload takes a new certificate for new connections
 * without dropping one, under load; a reload with bad files keeps the old ones.
 */

const serverCa = makeCa('Test server CA');
const clientCa = makeCa('Test client CA');

function tempDir(t: TestLike): string {
  const dir = mkdtempSync(join(tmpdir(), 'portier-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeFiles(dir: string, server: Certificate, ca: Certificate | undefined = clientCa) {
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'client-ca.crt') };
  writeFileSync(files.certFile, server.cert);
  writeFileSync(files.keyFile, server.key);
  if (ca !== undefined) writeFileSync(files.clientCaFile, ca.cert);
  return { ...files, clientCaFile: ca === undefined ? undefined : files.clientCaFile };
}

async function listeningTls(t: TestLike, files: ReturnType<typeof writeFiles>) {
  const logs = captureLogs('info');
  const server = await build(t, { config: { tls: files }, logger: logs.logger });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.app.server.address() as AddressInfo;
  return { ...server, port, logs };
}

/** The CN of the certificate the server shows a new connection. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: serverCa.cert, servername: 'localhost' }, () => {
      const name = socket.getPeerX509Certificate()?.subject ?? '';
      socket.end();
      resolve(name.replace(/^CN=/, ''));
    });
    socket.on('error', reject);
  });
}

function get(port: number, path: string, options: { agent?: Agent; cert?: Certificate } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: serverCa.cert,
        servername: 'localhost',
        ...(options.agent !== undefined && { agent: options.agent }),
        ...(options.cert !== undefined && { cert: options.cert.cert, key: options.cert.key }),
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

t.test('the configuration names the file at fault', async (t) => {
  const dir = tempDir(t);
  const files = writeFiles(dir, serverCertificate(serverCa));
  const env = { ISSUER, TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile };
  t.same(loadConfig(env).tls, { certFile: files.certFile, keyFile: files.keyFile, clientCaFile: undefined });
  t.throws(() => loadConfig({ TLS_KEY_FILE: files.keyFile }), /TLS_KEY_FILE: is set, but TLS_CERT_FILE is not/);
  t.throws(() => loadConfig({ TLS_CERT_FILE: files.certFile }), /TLS_KEY_FILE: must be set when TLS_CERT_FILE is/);
  t.throws(
    () => loadConfig({ ...env, TLS_CERT_FILE: join(dir, 'missing.crt') }),
    /TLS_CERT_FILE: .*missing\.crt: cannot read it \(ENOENT\)/,
  );
  t.throws(() => loadConfig({ ...env, TLS_KEY_FILE: files.certFile }), /TLS_KEY_FILE: .*tls\.crt: contains no PEM private key/);
  const otherKey = join(dir, 'other.key');
  writeFileSync(otherKey, serverCertificate(serverCa).key);
  t.throws(() => loadConfig({ ...env, TLS_KEY_FILE: otherKey }), /TLS_KEY_FILE: .*other\.key: not a usable key for .*tls\.crt/);
  t.throws(() => loadConfig({ ...env, TLS_CLIENT_CA_FILE: files.keyFile }), /TLS_CLIENT_CA_FILE: .*tls\.key: contains no PEM certificate/);
  t.throws(() => loadConfig({ ...env, CLIENT_CERT_HEADER: 'x-ssl-client-cert' }), /CLIENT_CERT_HEADER: is set, but TRUST_PROXY is false/);
  t.equal(loadConfig({ ...env, TRUST_PROXY: '127.0.0.1', CLIENT_CERT_HEADER: 'X-SSL-Client-Cert' }).clientCertHeader, 'x-ssl-client-cert');
  t.throws(
    () => loadConfig({ ...env, TRUST_PROXY: 'true', CLIENT_CERT_HEADER: 'x-ssl-client-cert' }),
    /CLIENT_CERT_HEADER: needs TRUST_PROXY to list/,
  );
  t.throws(
    () => loadConfig({ ...env, TRUST_PROXY: '1', CLIENT_CERT_HEADER: 'x-ssl-client-cert' }),
    /CLIENT_CERT_HEADER: needs TRUST_PROXY to list/,
  );
  t.throws(
    () => loadConfig({ ...env, TRUST_PROXY: '127.0.0.1', CLIENT_CERT_HEADER: 'x ssl' }),
    /CLIENT_CERT_HEADER: must be a header name/,
  );
  t.equal(loadConfig({ TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile, PORT: '8443' }).issuer, 'https://localhost:8443');
  t.equal(loadConfig({ MTLS_BASE_URL: 'https://mtls.example.com/' }).mtlsBaseUrl, 'https://mtls.example.com');
  t.throws(() => loadConfig({ MTLS_BASE_URL: 'http://mtls.example.com' }), /MTLS_BASE_URL: must be an https:\/\/ URL/);
});

t.test('HTTPS on PORT: a client certificate is asked for, not required', async (t) => {
  const server = await listeningTls(t, writeFiles(tempDir(t), serverCertificate(serverCa)));
  t.same(await get(server.port, '/healthz'), { status: 200, body: '{"status":"ok"}' }, 'without a certificate');
  const client = serverCertificate(clientCa, 'a client');
  t.equal((await get(server.port, '/healthz', { cert: client })).status, 200, 'with one');
  t.equal((await get(server.port, '/healthz', { cert: serverCertificate(serverCa, 'untrusted') })).status, 200, 'with one of another CA');
});

t.test('a handshake that stalls is closed after REQUEST_TIMEOUT, as a slow request head is', async (t) => {
  const logs = captureLogs('info');
  const built = await build(t, {
    config: {
      tls: writeFiles(tempDir(t), serverCertificate(serverCa)),
      protection: { ...testConfig().protection, requestTimeoutMs: 1000 },
    },
    logger: logs.logger,
  });
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = built.app.server.address() as AddressInfo;
  // A TCP connection that never starts its handshake.
  const socket = netConnect({ host: '127.0.0.1', port });
  const closed = new Promise<boolean>((resolve) => socket.on('close', () => resolve(true)));
  t.equal(await closed, true, 'the server closed it');
});

t.test('a reload serves the new certificate to new connections and drops none', async (t) => {
  const dir = tempDir(t);
  const files = writeFiles(dir, serverCertificate(serverCa, 'first'));
  const server = await listeningTls(t, files);
  t.equal(await servedName(server.port), 'first');
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());

  // Requests over kept-alive connections and new ones, while the certificate changes twice.
  let stop = false;
  const failures: string[] = [];
  let done = 0;
  const worker = async (options: { agent?: Agent }) => {
    while (!stop) {
      try {
        const res = await get(server.port, '/healthz', options);
        if (res.status !== 200) failures.push(`status ${res.status}`);
        done++;
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const workers = [worker({ agent }), worker({ agent }), worker({}), worker({})];
  await eventually(
    async () => done,
    (count) => count >= 20,
  );
  writeFiles(dir, serverCertificate(serverCa, 'second'));
  t.same(server.app.tls?.reload(), { reloaded: true });
  const afterFirst = done;
  await eventually(
    async () => done,
    (count) => count >= afterFirst + 20,
  );
  writeFiles(dir, serverCertificate(serverCa, 'third'));
  t.same(server.app.tls?.reload(), { reloaded: true });
  const afterSecond = done;
  await eventually(
    async () => done,
    (count) => count >= afterSecond + 20,
  );
  stop = true;
  await Promise.all(workers);
  t.same(failures, [], 'no request failed');
  t.equal(await servedName(server.port), 'third');
  t.match(server.logs.text(), /TLS certificate and key reloaded/);
});

t.test('files that cannot be used at a reload leave the old ones in use', async (t) => {
  const dir = tempDir(t);
  const files = writeFiles(dir, serverCertificate(serverCa, 'kept'));
  const server = await listeningTls(t, files);
  writeFileSync(files.keyFile, 'not a key');
  const outcome = server.app.tls?.reload();
  t.equal(outcome?.reloaded, false);
  t.equal(await servedName(server.port), 'kept');
  const line = server.logs.lines().find((entry) => entry.msg === 'TLS files not reloaded: the ones in use stay');
  t.equal(line?.level, 50, 'an error');
  t.equal(line?.file, files.keyFile);
  t.notMatch(server.logs.text(), /not a key/, 'no file content in the log');
  // Mismatched key and certificate: refused alike.
  writeFileSync(files.keyFile, serverCertificate(serverCa).key);
  t.equal(server.app.tls?.reload().reloaded, false);
  t.equal(await servedName(server.port), 'kept');
});

t.test('a change of the files is taken up without a signal', async (t) => {
  const dir = tempDir(t);
  const files = writeFiles(dir, serverCertificate(serverCa, 'before'));
  const server = await listeningTls(t, files);
  // As Kubernetes updates a mounted secret: the new files are put in place by rename.
  const renewed = serverCertificate(serverCa, 'after');
  writeFileSync(join(dir, 'new.crt'), renewed.cert);
  writeFileSync(join(dir, 'new.key'), renewed.key);
  copyFileSync(join(dir, 'new.key'), files.keyFile);
  copyFileSync(join(dir, 'new.crt'), files.certFile);
  const name = await eventually(
    () => servedName(server.port),
    (served) => served === 'after',
    4 * TLS_WATCH_INTERVAL_MS,
  );
  t.equal(name, 'after');
});
