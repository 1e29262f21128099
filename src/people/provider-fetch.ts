import type { CustomFetch } from 'openid-client';
import type { Outbound } from '../lib/outbound.js';

/** An answer from the identity provider larger than this is refused: its documents are a few KiB. */
export const MAX_PROVIDER_ANSWER_BYTES = 1024 * 1024;

/**
 * The fetch openid-client uses for every request to the identity provider: through
 * `outbound` (lib/outbound.ts), so the provider's answers have a size cap and its
 * connections the configured CA (OIDC_CA_FILE) and a keep-alive pool. Only what
 * openid-client sends is handled: a method, headers, a string or form body, an
 * AbortSignal, and no redirects followed (it asks for `redirect: 'manual'`).
 */
export function fetchThrough(outbound: Outbound): CustomFetch {
  return async (url, options) => {
    let body: string | Buffer | undefined;
    if (typeof options.body === 'string') body = options.body;
    else if (options.body instanceof URLSearchParams) body = options.body.toString();
    else if (options.body instanceof Uint8Array) body = Buffer.from(options.body);
    else if (options.body instanceof ArrayBuffer) body = Buffer.from(new Uint8Array(options.body));
    else if (options.body !== undefined && options.body !== null) throw new TypeError('a streamed request body is not supported here');
    const answer = await outbound.request(url, {
      method: options.method,
      headers: options.headers,
      ...(body !== undefined && { body }),
      ...(options.signal !== undefined && { signal: options.signal }),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const each of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, each);
    }
    const empty = answer.status === 204 || answer.status === 304;
    return new Response(empty ? null : answer.body, { status: answer.status, headers });
  };
}
