import { createHmac } from 'node:crypto';
import type { TokenHookConfig } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { Outbound, OutboundError } from '../lib/outbound.js';
import { type Claims, claimsProblem, isClaims, withoutReserved } from './claims.js';

/**
 * The issuance hook: a service of the operator's, called once per token about to be issued
 * (after every check Portier makes itself), that may add claims or deny the token. The
 * request is signed, `Portier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>" under TOKEN_HOOK_SECRET>`, so the hook can tell it comes from Portier and is
 * fresh.
 *
 * The calls go through one keep-alive pool (lib/outbound.ts, on undici): the token path
 * pays for a new connection only when all kept ones are busy, with a hard limit on the
 * answer's size (16 KB, counted as it arrives) and on the whole call's time
 * (TOKEN_HOOK_TIMEOUT). The hook is the operator's own service, often on the same host or
 * network: no private-address fence.
 */

/** A hook answer larger than this is a failure: claims are meant to be small. */
export const MAX_HOOK_ANSWER_BYTES = 16 * 1024;
/** Connections to the hook at once; more requests wait for one (within the timeout). */
const MAX_SOCKETS = 128;
/**
 * An idle connection is closed after this long (or sooner, when the hook's server says
 * so in Keep-Alive), before the server is likely to close it (Node's default keep-alive
 * timeout is 5 s): reusing a socket the server is closing at that moment would fail the
 * call. One such failure is retried on a new socket.
 */
const IDLE_SOCKET_MS = 4000;
/** The longest error_description a denial may pass on to the client. */
const MAX_DESCRIPTION = 200;
/** The longest a hook may ask for its answer to be reused (`cache_for`, seconds). */
export const MAX_CACHE_FOR_SECONDS = 3600;
/**
 * Answers reused at most at once on an instance; when full, the oldest goes first. Each
 * is a few hundred bytes, so this bounds the cache to a few MB whatever the hook asks.
 */
const MAX_REUSED_ANSWERS = 10_000;

/** What the hook is told about the token. */
export interface HookRequest {
  client: {
    client_id: string;
    name: string;
    owner: string;
    first_name: string | null;
    last_name: string | null;
    roles: string[];
    claims: Claims;
  };
  services: Array<{ id: string; audience: string }>;
  scope: string;
  ip: string;
  /** Every claim the token would carry without the hook. */
  claims: Claims;
}

/**
 * The token the hook is asked about, as the token endpoint has it. The request itself is
 * built only when the hook is called: an answer reused (`cache_for`) costs a lookup.
 */
export interface HookQuestion {
  /**
   * Where `client` comes from: the same object for as long as the client is unchanged (a
   * changed client is loaded as a new one), so its part of the reuse key is worked out
   * once per object.
   */
  source: object;
  client: () => HookRequest['client'];
  services: ReadonlyArray<{ serviceId: string; audience: string }>;
  scope: string;
  ip: string;
  claims: Claims;
}

export type HookFailureReason = 'timeout' | 'connection' | 'status' | 'too_large' | 'not_json' | 'invalid_answer';

export type HookOutcome =
  /**
   * Claims to add or override (reserved names already dropped, listed in `dropped`);
   * `cacheForSeconds`: how long the hook allows this answer to be reused (0: not at all).
   */
  | { kind: 'claims'; claims: Claims; dropped: string[]; cacheForSeconds: number }
  | { kind: 'deny'; description: string; cacheForSeconds: number }
  | { kind: 'failure'; reason: HookFailureReason; detail: string };

/** An answer the hook allowed to be reused, and until when (app clock, ms). */
interface ReusableAnswer {
  outcome: Exclude<HookOutcome, { kind: 'failure' }>;
  until: number;
}

/** The value of the Portier-Signature header for `body` sent at `unixSeconds`. */
export function hookSignature(secret: string, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/** What the hook's time and outcomes go to (metrics). */
export interface HookObserver {
  called(outcome: HookOutcome['kind'], seconds: number): void;
  failed(reason: HookFailureReason): void;
  /** An answer given again from the cache (`cache_for`), without calling the hook. */
  reused(outcome: 'claims' | 'deny'): void;
}

export class IssuanceHook {
  private readonly outbound: Outbound;
  /**
   * Answers the hook said may be reused (`cache_for`), by what the hook was told that does
   * not change from one token to the next (see reuseKey). Insertion order is age order.
   */
  private readonly reusable = new Map<string, ReusableAnswer>();
  /** The client's part of the reuse key, by the object it was told from (HookQuestion.source). */
  private readonly clientKeys = new WeakMap<object, string>();

  constructor(
    readonly config: TokenHookConfig,
    private readonly clock: Clock,
    private readonly observer: HookObserver,
  ) {
    this.outbound = new Outbound({
      label: 'issuance hook',
      allowPrivate: true,
      httpsOnly: false,
      timeoutMs: config.timeoutMs,
      maxResponseBytes: MAX_HOOK_ANSWER_BYTES,
      connections: MAX_SOCKETS,
      idleMs: IDLE_SOCKET_MS,
    });
  }

  /**
   * The hook's answer about this token: one it allowed to be reused for the same client,
   * services and scope while that lasts, else a call. Never throws (a failure is an outcome).
   */
  async call(question: HookQuestion): Promise<HookOutcome> {
    const key = this.reuseKey(question);
    const kept = this.reusable.get(key);
    if (kept !== undefined) {
      if (kept.until > this.clock()) {
        this.observer.reused(kept.outcome.kind);
        return kept.outcome;
      }
      this.reusable.delete(key);
    }
    const outcome = await this.ask({
      client: question.client(),
      services: question.services.map((service) => ({ id: service.serviceId, audience: service.audience })),
      scope: question.scope,
      ip: question.ip,
      claims: question.claims,
    });
    if (outcome.kind !== 'failure' && outcome.cacheForSeconds > 0) this.keep(key, outcome);
    return outcome;
  }

  /**
   * What may be reused for another token: the same client (as it is now: a changed client
   * gives another key), services and scope. The caller's address and the drafted claims
   * (iat, exp, jti) are left out: a hook whose answer depends on them answers `cache_for: 0`.
   * The client's part is JSON (no raw line break), so the line break cannot be forged.
   */
  private reuseKey(question: HookQuestion): string {
    let clientKey = this.clientKeys.get(question.source);
    if (clientKey === undefined) {
      clientKey = JSON.stringify(question.client());
      this.clientKeys.set(question.source, clientKey);
    }
    const services = question.services.map((service) => [service.serviceId, service.audience]);
    return `${clientKey}\n${JSON.stringify([services, question.scope])}`;
  }

  /** Forgets every reused answer (TOKEN_HOOK settings changed, or tests). */
  forgetAnswers(): void {
    this.reusable.clear();
  }

  private keep(key: string, outcome: ReusableAnswer['outcome']): void {
    this.reusable.delete(key);
    if (this.reusable.size >= MAX_REUSED_ANSWERS) {
      const oldest = this.reusable.keys().next().value;
      if (oldest !== undefined) this.reusable.delete(oldest);
    }
    this.reusable.set(key, { outcome, until: this.clock() + outcome.cacheForSeconds * 1000 });
  }

  /** One call to the hook, and its answer read. */
  private async ask(input: HookRequest): Promise<HookOutcome> {
    const started = performance.now();
    const body = JSON.stringify(input);
    const signature = hookSignature(this.config.secret, Math.floor(this.clock() / 1000), body);
    const outcome = await this.send(body, signature);
    if (outcome.kind === 'failure') this.observer.failed(outcome.reason);
    this.observer.called(outcome.kind, (performance.now() - started) / 1000);
    return outcome;
  }

  /** Closes the kept-alive connections (at shutdown). */
  close(): Promise<void> {
    return this.outbound.close();
  }

  /** One POST, and its answer as an outcome. */
  private async send(body: string, signature: string): Promise<HookOutcome> {
    let answer: Awaited<ReturnType<Outbound['request']>>;
    try {
      answer = await this.outbound.request(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': 'Portier token hook',
          'portier-signature': signature,
        },
        body,
        readBody: (status) => status >= 200 && status <= 299,
        // A kept-alive socket the server closed just as it was reused (see IDLE_SOCKET_MS):
        // the call is made again on a new one; the hook answers the same request alike.
        retryClosed: true,
      });
    } catch (error) {
      if (!(error instanceof OutboundError)) return { kind: 'failure', reason: 'connection', detail: String(error) };
      const reason = error.kind === 'timeout' || error.kind === 'too_large' ? error.kind : 'connection';
      return { kind: 'failure', reason, detail: error.message };
    }
    if (answer.status < 200 || answer.status > 299) return { kind: 'failure', reason: 'status', detail: `answered ${answer.status}` };
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch {
      return { kind: 'failure', reason: 'not_json', detail: 'the answer is not JSON' };
    }
    return interpret(parsed);
  }
}

/**
 * The hook's answer as an outcome: `{"deny": {...}}`, `{"claims": {...}}`, or `{}` (nothing
 * to add), each with an optional `"cache_for": <whole seconds, 0 to 3600>` (null: none).
 */
function interpret(answer: unknown): HookOutcome {
  if (!isClaims(answer)) return { kind: 'failure', reason: 'invalid_answer', detail: 'the answer is not a JSON object' };
  const cacheFor = answer.cache_for ?? 0;
  if (typeof cacheFor !== 'number' || !Number.isInteger(cacheFor) || cacheFor < 0 || cacheFor > MAX_CACHE_FOR_SECONDS) {
    return {
      kind: 'failure',
      reason: 'invalid_answer',
      detail: `"cache_for" is not a whole number of seconds from 0 to ${MAX_CACHE_FOR_SECONDS}`,
    };
  }
  if (answer.deny !== undefined) {
    if (!isClaims(answer.deny)) return { kind: 'failure', reason: 'invalid_answer', detail: '"deny" is not an object' };
    const description = answer.deny.error_description;
    return { kind: 'deny', description: typeof description === 'string' ? safeDescription(description) : '', cacheForSeconds: cacheFor };
  }
  if (answer.claims === undefined) return { kind: 'claims', claims: {}, dropped: [], cacheForSeconds: cacheFor };
  if (!isClaims(answer.claims)) return { kind: 'failure', reason: 'invalid_answer', detail: '"claims" is not an object' };
  const problem = claimsProblem(answer.claims);
  if (problem !== undefined) return { kind: 'failure', reason: 'invalid_answer', detail: `"claims" ${problem}` };
  const { kept, dropped } = withoutReserved(answer.claims);
  return { kind: 'claims', claims: kept, dropped, cacheForSeconds: cacheFor };
}

/** RFC 6749 §5.2: error_description is printable ASCII without `"` and `\`; cut short. */
function safeDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, MAX_DESCRIPTION);
}
