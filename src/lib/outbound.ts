import { isIP, type Socket } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import { type Lookup, publicOnlyLookup } from './fence.js';
import { isPublicAddress } from './networks.js';

/**
 * Every outgoing HTTP request of Portier goes through an Outbound: the key sets of
 * jwks_uri and trusted issuers, the issuance hook, the identity provider and the webhooks.
 * Each use has its own, over one undici Agent (its keep-alive pools, one per origin), with:
 * - the private-address fence (lib/fence.ts) applied where the connection is made: unless
 *   private addresses are allowed, a literal address must be public, a host name must
 *   resolve to public addresses only, and the address the socket connected to is checked
 *   again, so a DNS answer that changes between the check and the connection gains nothing;
 * - deadlines: connecting, waiting for the answer's headers, and the idle gaps of its body,
 *   each within one deadline for the whole exchange;
 * - a cap on the answer's size, counted as it arrives (past it, the connection is cut);
 * - no redirect followed: a 3xx is an answer like any other, for the caller to judge;
 * - failures as OutboundError, whose `kind` says what went wrong.
 */

/** Why an outgoing request failed: `refused` (the URL or the fence; nothing was sent), `timeout`, `connection`, `too_large`. */
export type OutboundFailure = 'refused' | 'timeout' | 'connection' | 'too_large';

/** A failed outgoing request. The message names what was called (the label), never a secret. */
export class OutboundError extends Error {
  override readonly name = 'OutboundError';
  constructor(
    readonly kind: OutboundFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface OutboundSettings {
  /** What is called, as the errors' messages begin: `jwks_uri`, `issuance hook`, … */
  label: string;
  /** Whether loopback, private and other non-public addresses may be reached. */
  allowPrivate: boolean;
  /** Only https URLs (an http one is refused); otherwise http and https. */
  httpsOnly: boolean;
  /** Extra CA certificates (PEM) to trust besides Node's. */
  ca?: string | undefined;
  /** The whole exchange's deadline (a call may set its own). */
  timeoutMs: number;
  /** Connecting (TCP and TLS), waiting for the headers, and each idle gap of the body; each defaults to timeoutMs. */
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** The largest answer body read; a larger one fails as `too_large` (or is cut short, when not read). */
  maxResponseBytes: number;
  /** Connections at most per origin; more requests wait for one (within their deadline). Default: no limit. */
  connections?: number;
  /** An idle kept-alive connection is closed after this long (less if the server says so). Default 4 s. */
  idleMs?: number;
  /** The resolver, in place of the fenced one: for tests playing a DNS server that answers differently when asked again. */
  lookup?: Lookup;
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** This call's deadline, in place of the settings' timeoutMs. */
  timeoutMs?: number;
  /** The caller's own abort: its reason is what the call then rejects with. */
  signal?: AbortSignal;
  /** What the errors' messages begin with, in place of the settings' label. */
  label?: string;
  /** Whether the body of an answer with this status is read; otherwise it is discarded (at most maxResponseBytes of it). Default: read. */
  readBody?: (status: number) => boolean;
  /**
   * A connection closed before any answer came (a kept-alive one the server was closing
   * as it was reused): the request is sent once more, on another connection, within the
   * same deadline. Only for requests the server may receive twice.
   */
  retryClosed?: boolean;
}

export interface OutboundAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Empty when not read (see readBody). */
  body: Buffer;
}

/**
 * The fence's refusal where the connection is made (the lookup, the socket's address),
 * which knows nothing of the call: the call's label is put before it (see failure).
 */
class ConnectRefusal extends Error {}

/** Error codes of a connection closed or reset under a request. */
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export class Outbound {
  private readonly agent: Agent;

  constructor(private readonly settings: OutboundSettings) {
    const connector = buildConnector({
      timeout: settings.connectTimeoutMs ?? settings.timeoutMs,
      // Passing `ca` replaces Node's trusted roots: keep them and add the configured ones,
      // parsed once here rather than for every connection.
      ...(settings.ca !== undefined && { secureContext: createSecureContext({ ca: [...rootCertificates, settings.ca] }) }),
      ...(settings.lookup !== undefined
        ? { lookup: settings.lookup }
        : !settings.allowPrivate && { lookup: publicOnlyLookup((message) => new ConnectRefusal(message)) }),
    } as buildConnector.BuildOptions);
    this.agent = new Agent({
      headersTimeout: settings.headersTimeoutMs ?? settings.timeoutMs,
      bodyTimeout: settings.bodyTimeoutMs ?? settings.timeoutMs,
      keepAliveTimeout: settings.idleMs ?? 4000,
      ...(settings.connections !== undefined && { connections: settings.connections }),
      connect: settings.allowPrivate ? connector : this.fenced(connector),
    });
  }

  /**
   * Sends the request and reads the answer (see OutboundRequest); rejects with an
   * OutboundError, or with the reason of the caller's `signal` when that aborted it.
   */
  async request(url: string, init: OutboundRequest = {}): Promise<OutboundAnswer> {
    const label = init.label ?? this.settings.label;
    const target = this.checked(url, label);
    const timeoutMs = init.timeoutMs ?? this.settings.timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new OutboundError('timeout', `${label} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const signal = init.signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, init.signal]);
    try {
      return await this.exchange(target, init, signal, label, init.retryClosed === true);
    } catch (error) {
      if (init.signal?.aborted === true && error === init.signal.reason) throw error;
      throw failure(error, label, this.settings);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the kept-alive connections and aborts what is under way (at shutdown). */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private async exchange(
    target: string,
    init: OutboundRequest,
    signal: AbortSignal,
    label: string,
    mayRetry: boolean,
  ): Promise<OutboundAnswer> {
    let response: Dispatcher.ResponseData;
    try {
      response = await request(target, {
        method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
        ...(init.headers !== undefined && { headers: init.headers }),
        ...(init.body !== undefined && { body: init.body }),
        signal,
        dispatcher: this.agent,
      });
    } catch (error) {
      if (mayRetry && !signal.aborted && CLOSED.has(codeOf(error) ?? '')) return this.exchange(target, init, signal, label, false);
      throw error;
    }
    const { statusCode: status, headers } = response;
    const max = this.settings.maxResponseBytes;
    if (init.readBody !== undefined && !init.readBody(status)) {
      // Read and dropped, at most `max`: past that the connection is closed.
      await response.body.dump({ limit: max }).catch(() => undefined);
      return { status, headers, body: Buffer.alloc(0) };
    }
    const tooLarge = () => new OutboundError('too_large', `${label} answer is larger than ${max} bytes`);
    if (Number(headers['content-length'] ?? 0) > max) {
      // Not read at all: the connection goes, rather than the answer.
      response.body.on('error', () => undefined).destroy();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      // Not read any further (leaving the loop destroys the body): the connection goes, rather than the rest of the answer.
      if (size > max) throw tooLarge();
      chunks.push(chunk);
    }
    return { status, headers, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) };
  }

  /** The URL, if its scheme is allowed and (unless private addresses are) a literal address in it is public. */
  private checked(url: string, label: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw this.refusal(label, 'is not a URL');
    }
    if (parsed.protocol !== 'https:' && (this.settings.httpsOnly || parsed.protocol !== 'http:')) {
      throw this.refusal(label, this.settings.httpsOnly ? 'is not https' : 'is not http or https');
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    // A literal address is connected to without any lookup: checked here, before anything is sent.
    if (!this.settings.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) {
      throw this.refusal(label, `names a non-public address (${host})`);
    }
    return parsed.href;
  }

  /** The connector, with the address each new socket connected to checked against the fence. */
  private fenced(connector: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      connector(options, (error, socket) => {
        if (error !== null) return callback(error, null);
        const remote = (socket as Socket).remoteAddress;
        if (remote === undefined || !isPublicAddress(remote)) {
          socket.destroy();
          return callback(new ConnectRefusal(`connected to a non-public address (${remote ?? 'unknown'})`), null);
        }
        return callback(null, socket);
      });
    };
  }

  private refusal(label: string, message: string): OutboundError {
    return new OutboundError('refused', `${label} ${message}`);
  }
}

/** Any error of a request as an OutboundError. */
function failure(error: unknown, label: string, settings: OutboundSettings): OutboundError {
  if (error instanceof OutboundError) return error;
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof OutboundError) return cause;
  const refusal = error instanceof ConnectRefusal ? error : cause instanceof ConnectRefusal ? cause : undefined;
  if (refusal !== undefined) return new OutboundError('refused', `${label} ${refusal.message}`);
  switch (codeOf(error)) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new OutboundError(
        'timeout',
        `${label} could not be connected to within ${settings.connectTimeoutMs ?? settings.timeoutMs} ms`,
      );
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new OutboundError('timeout', `${label} did not answer within ${settings.headersTimeoutMs ?? settings.timeoutMs} ms`);
    case 'UND_ERR_BODY_TIMEOUT':
      return new OutboundError('timeout', `${label} answer stalled for ${settings.bodyTimeoutMs ?? settings.timeoutMs} ms`);
    default:
      return new OutboundError('connection', `${label} fetch failed: ${describe(error)}`);
  }
}

function codeOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const cause = error.cause as NodeJS.ErrnoException | undefined;
  return (error as NodeJS.ErrnoException).code ?? cause?.code;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = codeOf(error);
  const message = cause?.message ?? error.message;
  return code === undefined ? message : `${code}: ${message}`;
}
