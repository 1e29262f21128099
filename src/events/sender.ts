import type { Socket } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { publicOnlyLookup } from '../lib/fence.js';
import { isPublicAddress } from '../lib/networks.js';
import type { SendOutcome, SignedRequest } from './deliveries.js';

/** The most of a receiver's answer read; the rest is cut off with the connection. Nothing of it is kept. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export class FenceError extends Error {
  override readonly name = 'FenceError';
}

/**
 * Sends deliveries over HTTP with undici, behind the private-address fence of every
 * outgoing request an admin's URL chooses (lib/fence.ts): unless WEBHOOK_ALLOW_PRIVATE,
 * the host must resolve to public addresses only, and the address connected to is checked
 * again on the socket. No redirect is followed (a 3xx counts as a failure), one deadline
 * (WEBHOOK_TIMEOUT) covers the whole exchange, and at most MAX_ANSWER_BYTES of the answer
 * are read. Connections are kept alive between deliveries.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly options: { allowPrivate: boolean; timeoutMs: number }) {
    const connector = buildConnector({
      timeout: options.timeoutMs,
      ...(!options.allowPrivate && { lookup: publicOnlyLookup((message) => new FenceError(`webhook ${message}`)) }),
    } as buildConnector.BuildOptions);
    this.agent = new Agent({
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: (connectOptions, callback) => {
        connector(connectOptions, (error, socket) => {
          if (error !== null) return callback(error, null);
          const remote = (socket as Socket).remoteAddress;
          if (!options.allowPrivate && (remote === undefined || !isPublicAddress(remote))) {
            socket.destroy();
            return callback(new FenceError(`webhook connected to a non-public address (${remote ?? 'unknown'})`), null);
          }
          return callback(null, socket);
        });
      },
    });
  }

  /** POSTs the request; never throws (a failure is an outcome). `signal` aborts it (at shutdown). */
  async send(signed: SignedRequest, signal?: AbortSignal): Promise<SendOutcome> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const response = await request(signed.url, {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
        dispatcher: this.agent,
        signal: signal === undefined ? deadline : AbortSignal.any([deadline, signal]),
      });
      // Read and dropped, at most MAX_ANSWER_BYTES: past that the connection is closed.
      await response.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => undefined);
      const status = response.statusCode;
      if (status >= 200 && status <= 299) return { ok: true, status };
      if (status >= 300 && status <= 399) return { ok: false, status, error: `answered ${status} (a redirect, not followed)` };
      return { ok: false, status, error: `answered ${status}` };
    } catch (error) {
      if (deadline.aborted) return { ok: false, status: null, error: `no answer within ${this.options.timeoutMs} ms` };
      return { ok: false, status: null, error: describe(error) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (error as NodeJS.ErrnoException).code ?? (cause as NodeJS.ErrnoException | undefined)?.code;
  const message = cause?.message ?? error.message;
  return code === undefined ? message : `${code}: ${message}`;
}
