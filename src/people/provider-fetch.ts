import { Agent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { CustomFetch } from 'openid-client';

/** An answer from the identity provider larger than this is refused: its documents are a few KiB. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The fetch openid-client uses when OIDC_CA_FILE is set: Node's own fetch cannot be told
 * to trust another CA without a dependency (undici's Agent), so https requests go through
 * node:https with Node's trusted roots plus the configured ones. Only what openid-client
 * sends is handled: a method, headers, a string or form body, an AbortSignal, and no
 * redirects followed (it asks for `redirect: 'manual'`).
 */
export function fetchTrusting(caPem: string): CustomFetch {
  const agent = new Agent({ ca: [...rootCertificates, caPem], keepAlive: true });
  return (url, options) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'https:') {
        // http (a provider on this machine): nothing to trust.
        fetch(url, options as RequestInit).then(resolve, reject);
        return;
      }
      let body: string | Buffer | undefined;
      if (typeof options.body === 'string') body = options.body;
      else if (options.body instanceof URLSearchParams) body = options.body.toString();
      else if (options.body instanceof Uint8Array) body = Buffer.from(options.body);
      else if (options.body instanceof ArrayBuffer) body = Buffer.from(new Uint8Array(options.body));
      else if (options.body !== undefined && options.body !== null) {
        reject(new TypeError('a streamed request body is not supported here'));
        return;
      }
      const request = httpsRequest(
        target,
        { method: options.method, headers: options.headers, agent, ...(options.signal !== undefined && { signal: options.signal }) },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES)
              request.destroy(new Error(`the identity provider's answer is larger than ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(chunk);
          });
          response.on('error', reject);
          response.on('end', () => {
            const headers = new Headers();
            for (let i = 0; i + 1 < response.rawHeaders.length; i += 2)
              headers.append(response.rawHeaders[i] ?? '', response.rawHeaders[i + 1] ?? '');
            const status = response.statusCode ?? 502;
            const empty = status === 204 || status === 304;
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage ?? '', headers }));
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });
}
