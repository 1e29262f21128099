import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config.js';
import { addService, build, captureLogs, type TestLike, type TestServer } from '../helpers.js';
import { type Certificate, makeCa, serverCertificate } from '../pki.js';

/**
 * What the tests of client certificates over real TLS sockets share (test/oauth/mtls.test.ts,
 * test/tls/spiffe.test.ts): a server CA and a client CA made here, Portier's TLS files in a
 * folder of their own, a listening Portier with the service `orders`, and HTTPS requests
 * that present a certificate.
 */

export const AUDIENCE = 'https://orders.example';
export const grants = [{ service: 'orders', scopes: ['orders:read'] }];

export interface Answer {
  status: number;
  json: Record<string, unknown>;
}

export interface Listening extends TestServer {
  port: number;
  logs: ReturnType<typeof captureLogs>;
}

export interface RequestOptions {
  /** The client's certificate, then the chain sent after it. */
  cert?: Certificate;
  chain?: Certificate[];
  path?: string;
  headers?: Record<string, string>;
  /** false: plain HTTP, as from a proxy that terminated TLS. */
  tls?: boolean;
  localAddress?: string;
}

export interface TlsSetup {
  serverCa: Certificate;
  clientCa: Certificate;
  /** The certificate Portier serves (for a resource server of the test's own). */
  server: Certificate;
  /** The folder of the TLS files (removed when the file's tests are done). */
  dir: string;
  tlsFiles: { certFile: string; keyFile: string; clientCaFile: string };
  /** A Portier listening on loopback with the service `orders`, its logs captured. */
  listening(t: TestLike, config?: Partial<Config>): Promise<Listening>;
  /** POSTs a form (to the token endpoint unless `path` says) and reads the JSON answer. */
  post(port: number, form: Record<string, string>, options?: RequestOptions): Promise<Answer>;
}

/** The CAs and TLS files for one test file; `name` names its CAs and folder. */
export function tlsSetup(t: TestLike, name: string): TlsSetup {
  const serverCa = makeCa(`${name} test server CA`);
  const clientCa = makeCa(`${name} test client CA`);
  const server = serverCertificate(serverCa);
  const dir = mkdtempSync(join(tmpdir(), `portier-${name.toLowerCase()}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tlsFiles = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'client-ca.crt') };
  writeFileSync(tlsFiles.certFile, server.cert);
  writeFileSync(tlsFiles.keyFile, server.key);
  writeFileSync(tlsFiles.clientCaFile, clientCa.cert);

  const listening = async (t: TestLike, config: Partial<Config> = { tls: tlsFiles }): Promise<Listening> => {
    const logs = captureLogs('info');
    const built = await build(t, { config, logger: logs.logger });
    await addService(built.database, { id: 'orders', audience: AUDIENCE, scopes: ['orders:read'] });
    await built.app.listen({ port: 0, host: '127.0.0.1' });
    return { ...built, port: (built.app.server.address() as AddressInfo).port, logs };
  };

  const post = (port: number, form: Record<string, string>, options: RequestOptions = {}): Promise<Answer> => {
    const body = new URLSearchParams(form).toString();
    const send = options.tls === false ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: options.path ?? '/oauth/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
          ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
          ...(options.tls !== false && { ca: serverCa.cert, servername: 'localhost', agent: false }),
          ...(options.cert !== undefined && {
            cert: [options.cert.cert, ...(options.chain ?? []).map((c) => c.cert)].join(''),
            key: options.cert.key,
          }),
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };

  return { serverCa, clientCa, server, dir, tlsFiles, listening, post };
}
