import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { basicAuth, createTestDatabase, freePort, seededDataDir } from '../helpers.js';

/** What the tracing tests share: an OTLP/HTTP receiver and the real process started against it. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
export interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: OtlpAttribute[];
}
export interface OtlpExport {
  resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
}

/** An OTLP/HTTP receiver: what a Collector's otlphttp receiver is to Portier (JSON or protobuf). */
export async function startReceiver(
  t: Test,
): Promise<{ endpoint: string; received: Array<{ type: string; body: Buffer }>; bodies: string[]; exports: OtlpExport[] }> {
  const received: Array<{ type: string; body: Buffer }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const type = request.headers['content-type'] ?? '';
      if (request.method === 'POST' && request.url === '/v1/traces') received.push({ type, body: Buffer.concat(chunks) });
      // An empty ExportTraceServiceResponse: `{}` in JSON, no bytes in protobuf.
      if (type === 'application/json') response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const bodies = () => received.filter((body) => body.type === 'application/json').map((body) => body.body.toString('utf8'));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    get bodies() {
      return bodies();
    },
    get exports() {
      return bodies().map((body) => JSON.parse(body) as OtlpExport);
    },
  };
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      CONFIG_VARIABLES.includes(name) ||
      name === 'NODE_OPTIONS' ||
      name.startsWith('OTEL_') ||
      name.startsWith('TAP') ||
      name.startsWith('_TAPJS')
    )
      continue;
    base[name] = value;
  }
  return { ...base, ...env };
}

/** Starts Portier; resolves once it logged that it is ready. */
export async function startPortier(
  t: Test,
  env: Record<string, string>,
  options: { recordLoads?: boolean } = {},
): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null>; loaded: () => string[] }> {
  // With recordLoads, every module the process resolves is listed in a file (record-loads.ts).
  const loads = options.recordLoads === true ? join(mkdtempSync(join(tmpdir(), 'portier-loads-')), 'loads.txt') : undefined;
  if (loads !== undefined) t.teardown(() => rmSync(dirname(loads), { recursive: true, force: true }));
  const preload = loads === undefined ? [] : ['--import', './test/tracing/record-loads.ts'];
  const child = spawn(process.execPath, ['--import', 'tsx', ...preload, 'src/main.ts'], {
    cwd: ROOT,
    env: childEnv({ ...env, ...(loads !== undefined && { PORTIER_TEST_LOADS: loads }) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const loaded = () =>
    loads === undefined || !existsSync(loads)
      ? []
      : readFileSync(loads, 'utf8')
          .split('\n')
          .filter((line) => line !== '');
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      if (output.includes('"msg":"portier is ready"')) resolve();
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    void exited.then((code) => reject(new Error(`portier exited (${code}) before it was ready: ${output}`)));
  });
  return { child, output: () => output, exited, loaded };
}

export const text = (span: OtlpSpan, key: string): string | number | boolean | undefined => {
  const value = span.attributes.find((attribute) => attribute.key === key)?.value;
  return value?.stringValue ?? value?.boolValue ?? (value?.intValue === undefined ? value?.doubleValue : Number(value.intValue));
};

/**
 * The OpenTelemetry protobuf definitions (opentelemetry-proto, compiled by protobufjs and
 * shipped in otlp-transformer 0.57; see docs/development.md): what a Collector decodes with.
 */
interface DecodedAttribute {
  key?: string | null;
  value?: {
    stringValue?: string | null;
    boolValue?: boolean | null;
    intValue?: number | { toString(): string } | null;
    doubleValue?: number | null;
  } | null;
}
interface DecodedRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: DecodedAttribute[] | null } | null;
    scopeSpans?: Array<{
      spans?: Array<{
        traceId?: Uint8Array | null;
        spanId?: Uint8Array | null;
        parentSpanId?: Uint8Array | null;
        name?: string | null;
        attributes?: DecodedAttribute[] | null;
      }> | null;
    }> | null;
  }> | null;
}
// The generated module is protobufjs's static code; its .d.ts declares no message types, hence these.
const proto = createRequire(import.meta.url)('otlp-proto-definitions/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(body: Uint8Array): DecodedRequest } } } } } };
};
const { ExportTraceServiceRequest } = proto.opentelemetry.proto.collector.trace.v1;

const hex = (bytes: Uint8Array | null | undefined): string => Buffer.from(bytes ?? []).toString('hex');

/** An ExportTraceServiceRequest in protobuf, decoded into the shape of its JSON form (ids in hex). */
export function decodeProtobuf(body: Buffer): OtlpExport {
  const request = ExportTraceServiceRequest.decode(body);
  const attributes = (list: DecodedAttribute[] | null | undefined): OtlpAttribute[] =>
    (list ?? []).map((attribute) => {
      const value = attribute.value ?? {};
      return {
        key: attribute.key ?? '',
        value: {
          ...(value.stringValue != null && { stringValue: value.stringValue }),
          ...(value.boolValue != null && { boolValue: value.boolValue }),
          ...(value.intValue != null && { intValue: String(value.intValue) }),
          ...(value.doubleValue != null && { doubleValue: value.doubleValue }),
        },
      };
    });
  return {
    resourceSpans: (request.resourceSpans ?? []).map((resourceSpans) => ({
      resource: { attributes: attributes(resourceSpans.resource?.attributes) },
      scopeSpans: (resourceSpans.scopeSpans ?? []).map((scope) => ({
        spans: (scope.spans ?? []).map((span) => ({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name ?? '',
          attributes: attributes(span.attributes),
        })),
      })),
    })),
  };
}

/** Every span of some exports. */
export function spansOf(exports: OtlpExport[]): OtlpSpan[] {
  return exports.flatMap((body) => body.resourceSpans.flatMap((resourceSpans) => resourceSpans.scopeSpans.flatMap((scope) => scope.spans)));
}

/** The spans above `span`, nearest first. */
export function ancestorsIn(spans: OtlpSpan[]): (span: OtlpSpan) => OtlpSpan[] {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const ancestors = (span: OtlpSpan): OtlpSpan[] => {
    const parent = span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : byId.get(span.parentSpanId);
    return parent === undefined ? [] : [parent, ...ancestors(parent)];
  };
  return ancestors;
}

const ON_POSTGRES = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

/**
 * Portier on a port of its own and a database of its own (a fresh PostgreSQL database when
 * the suite runs on one, else a seeded DATA_DIR), with a bootstrap admin client `ops-admin`
 * and a KEY_ENCRYPTION_KEY; `env` adds to or overrides that. The secrets are returned so
 * that a test can look for them in what was exported.
 */
export async function startPortierOnOwnDatabase(t: Test, env: Record<string, string>, options: { recordLoads?: boolean } = {}) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const adminSecret = `adm_${randomBytes(24).toString('base64url')}`;
  const keyEncryptionKey = randomBytes(32).toString('base64');
  const storage: Record<string, string> = ON_POSTGRES
    ? { DATABASE_URL: (await createTestDatabase(t)).databaseUrl ?? '' }
    : { DATA_DIR: await seededDataDir(t) };
  const portier = await startPortier(
    t,
    {
      ...storage,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: origin,
      KEY_ENCRYPTION_KEY: keyEncryptionKey,
      BOOTSTRAP_ADMIN_CLIENT_ID: 'ops-admin',
      BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
      ...env,
    },
    options,
  );
  return { ...portier, origin, adminSecret, keyEncryptionKey, adminBasic: basicAuth('ops-admin', adminSecret) };
}
