// The mutual TLS rows (issue 31): what a token costs a certificate client (tls_client_auth,
// RFC 8705 §2) next to a secret client, both over HTTPS to a Portier that terminates TLS
// itself, with keep-alive and with a new TLS connection per token (the way a cron job
// calls). Portier runs in this process on an in-memory PGlite, so the generator's CPU and
// the server's are one figure (serverCores); the rows compare with each other, not with the
// tables of the spawned targets.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { buildApp } from '../src/app.js';
import { createClient } from '../src/clients/clients.js';
import { loadConfig } from '../src/config.js';
import { pgliteDatabase } from '../src/db/connect.js';
import { services } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { prepareDatabase } from '../src/prepare.js';
import { issueCertificate, makeCa, serverCertificate } from '../test/pki.js';
import { type DriveResult, drive } from './drive.js';
import type { LoadSettings } from './load.js';

export interface MtlsRow extends DriveResult {
  /** `secret` or `certificate`. */
  auth: string;
  /** `keep-alive` or `new connection`. */
  connection: string;
}

const AUDIENCE = 'https://api.mtls.bench.example';
const LOOPBACK = '127.0.0.1';

/** Starts Portier with TLS and a client CA, registers one client of each kind, drives the four rows in turn, and returns them. */
export async function mtlsRows(settings: LoadSettings): Promise<MtlsRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'portier-bench-mtls-'));
  const serverCa = makeCa('bench server CA');
  const clientCa = makeCa('bench client CA');
  const server = serverCertificate(serverCa);
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'client-ca.crt') };
  writeFileSync(tls.certFile, server.cert);
  writeFileSync(tls.keyFile, server.key);
  writeFileSync(tls.clientCaFile, clientCa.cert);
  const config = { ...loadConfig({ ISSUER: `https://${LOOPBACK}`, LOG_LEVEL: 'silent' }), tls };
  const database = pgliteDatabase(new PGlite());
  await prepareDatabase(database, config);
  await database.db.insert(services).values({ id: 'bench-api', name: 'bench-api', audience: AUDIENCE, scopes: ['read'] });
  const actor = { clientId: 'bench', sub: null };
  const grants = [{ service: 'bench-api', scopes: ['read'] }];
  const base = { name: 'bench', owner: 'bench', grants };
  const { clientSecret } = await createClient(database.db, { ...base, client_id: 'bench-secret' }, actor, { now: Date.now() });
  await createClient(
    database.db,
    { ...base, client_id: 'bench-cert', auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'bench.client.example' },
    actor,
    { now: Date.now() },
  );
  const clientCertificate = issueCertificate({ subject: [['CN', 'bench']], issuer: clientCa, sans: { dns: ['bench.client.example'] } });
  const app = await buildApp({ config, database, logger: createLogger('silent') });
  await app.listen({ port: 0, host: LOOPBACK });
  const tokenUrl = `https://${LOOPBACK}:${(app.server.address() as AddressInfo).port}/oauth/token`;
  const form = (fields: Record<string, string>) =>
    new URLSearchParams({ grant_type: 'client_credentials', resource: AUDIENCE, ...fields }).toString();
  const kinds = [
    { auth: 'secret', body: form({ client_id: 'bench-secret', client_secret: clientSecret ?? '' }), clientCertificate: undefined },
    { auth: 'certificate', body: form({ client_id: 'bench-cert' }), clientCertificate },
  ];
  const rows: MtlsRow[] = [];
  try {
    for (const fresh of [false, true]) {
      for (const kind of kinds) {
        const result = await drive({
          tokenUrl,
          nextBody: () => kind.body,
          settings,
          serverPid: process.pid,
          ca: serverCa.cert,
          newConnectionPerRequest: fresh,
          ...(kind.clientCertificate !== undefined && { clientCertificate: kind.clientCertificate }),
        });
        rows.push({ ...result, auth: kind.auth, connection: fresh ? 'new connection' : 'keep-alive' });
      }
    }
  } finally {
    await app.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
