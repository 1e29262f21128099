import { type Attributes, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ClientCredentials } from '../oauth/client-auth/credentials.js';
import { toOAuthError } from '../oauth/errors.js';
import { tokenSteps } from '../oauth/token.js';
import { IssuanceHook } from '../policy/hook.js';
import { QuotaTracker } from '../policy/quota.js';
import { Argon2Pool } from '../protection/argon2-pool.js';

/**
 * Spans for the steps of a token request, under the server span of the request (HTTP and
 * Fastify instrumentations) and above the database's (pg instrumentation): client
 * authentication, the argon2id verification of a secret, the quota, the issuance hook (whose
 * own HTTP call carries `traceparent` onwards) and the signature. Loaded only with tracing on:
 * it replaces the steps with traced ones once, at start, so with tracing off the token path
 * is the plain code. Attributes name the client and the outcome, never what was presented
 * (no secret, assertion or token).
 */

export const SPAN_NAMES = {
  clientAuthentication: 'portier.client_authentication',
  argon2: 'portier.argon2.verify',
  quota: 'portier.quota.admit',
  hook: 'portier.issuance_hook',
  signing: 'portier.token.sign',
} as const;

const tracer = trace.getTracer('portier');

/**
 * `run` inside a span named `name`; `describe` adds attributes from the result. A failure sets
 * the status and `error.type` (the OAuth error code, or the error's name). Inside a request
 * that is not sampled (its span records nothing), `run` runs as it is: no span, no context
 * switch, no attributes built; a child of an unsampled span would be dropped anyway
 * (parent-based sampling), and 99 of 100 requests are such at 1 % sampling.
 */
function traced<Args extends unknown[], Result>(
  name: string,
  run: (this: unknown, ...args: Args) => Promise<Result>,
  describe: (result: Result, args: Args) => Attributes = () => ({}),
  before: (args: Args) => Attributes = () => ({}),
): (this: unknown, ...args: Args) => Promise<Result> {
  return function (this: unknown, ...args: Args): Promise<Result> {
    const parent = trace.getActiveSpan();
    if (parent !== undefined && !parent.isRecording()) return run.apply(this, args);
    return tracer.startActiveSpan(name, async (span) => {
      const recording = span.isRecording();
      if (recording) span.setAttributes(before(args));
      try {
        const result = await run.apply(this, args);
        if (recording) span.setAttributes(describe(result, args));
        return result;
      } catch (error) {
        if (recording) {
          const oauthError = toOAuthError(error);
          span.setAttribute('error.type', oauthError?.error ?? (error instanceof Error ? error.name : 'unknown'));
          span.setStatus({ code: SpanStatusCode.ERROR, message: oauthError?.description });
        }
        throw error;
      } finally {
        span.end();
      }
    });
  };
}

/** Which way the client authenticated: the method only, never the credential. */
function credentialAttributes(credentials: ClientCredentials): Attributes {
  return { 'portier.client.authentication_method': credentials.method };
}

export function traceTokenPath(): void {
  tokenSteps.authenticateClient = traced(
    SPAN_NAMES.clientAuthentication,
    tokenSteps.authenticateClient,
    (authentication) => ({ 'portier.client_id': authentication.client.clientId }),
    ([, credentials]) => credentialAttributes(credentials),
  );
  tokenSteps.signAccessToken = traced(SPAN_NAMES.signing, tokenSteps.signAccessToken, (_token, [key]) => ({
    'portier.signing_key.kid': key.kid,
    'portier.signing_key.alg': key.alg,
  }));
  const argon2 = Argon2Pool.prototype;
  argon2.verify = traced(SPAN_NAMES.argon2, argon2.verify, (matches) => ({ 'portier.argon2.matched': matches }));
  const quotas = QuotaTracker.prototype;
  quotas.admit = traced(SPAN_NAMES.quota, quotas.admit, (decision) => ({ 'portier.quota.admitted': decision.admitted }));
  const hook = IssuanceHook.prototype;
  hook.call = traced(SPAN_NAMES.hook, hook.call, (outcome) => ({ 'portier.issuance_hook.outcome': outcome.kind }));
}
