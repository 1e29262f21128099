import { Outbound, OutboundError } from '../lib/outbound.js';
import type { SendOutcome, SignedRequest } from './deliveries.js';

/** The most of a receiver's answer read; the rest is cut off with the connection. Nothing of it is kept. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends deliveries over lib/outbound.ts, behind the private-address fence of every
 * outgoing request an admin's URL chooses: unless WEBHOOK_ALLOW_PRIVATE, the host must
 * resolve to public addresses only, and the address connected to is checked again on the
 * socket. No redirect is followed (a 3xx counts as a failure), one deadline
 * (WEBHOOK_TIMEOUT) covers the whole exchange, and at most MAX_ANSWER_BYTES of the answer
 * are read (and dropped). Connections are kept alive between deliveries.
 */
export class WebhookSender {
  private readonly outbound: Outbound;

  constructor(private readonly options: { allowPrivate: boolean; timeoutMs: number }) {
    this.outbound = new Outbound({
      label: 'webhook',
      allowPrivate: options.allowPrivate,
      httpsOnly: false,
      timeoutMs: options.timeoutMs,
      maxResponseBytes: MAX_ANSWER_BYTES,
    });
  }

  /** POSTs the request; never throws (a failure is an outcome). `signal` aborts it (at shutdown). */
  async send(signed: SignedRequest, signal?: AbortSignal): Promise<SendOutcome> {
    try {
      const { status } = await this.outbound.request(signed.url, {
        method: 'POST',
        headers: signed.headers,
        body: signed.body,
        readBody: () => false,
        ...(signal !== undefined && { signal }),
      });
      if (status >= 200 && status <= 299) return { ok: true, status };
      if (status >= 300 && status <= 399) return { ok: false, status, error: `answered ${status} (a redirect, not followed)` };
      return { ok: false, status, error: `answered ${status}` };
    } catch (error) {
      if (error instanceof OutboundError && error.kind === 'timeout') {
        return { ok: false, status: null, error: `no answer within ${this.options.timeoutMs} ms` };
      }
      return { ok: false, status: null, error: error instanceof Error ? error.message : String(error) };
    }
  }

  async close(): Promise<void> {
    await this.outbound.close();
  }
}
