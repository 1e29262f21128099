import type { Db } from '../db/connect.js';
import { auditEvents } from '../db/schema.js';
import { type Clock, systemClock } from '../lib/clock.js';

/** One token exchange (RFC 8693) that issued a token. */
export interface TokenExchange {
  /** The subject the new token is for: a client_id, or `<trusted issuer id>:<sub>`. */
  subject: string;
  /** The client_id of the subject's client, when the subject is a Portier client. */
  subjectClientId: string | undefined;
  /** The client that exchanged (the new token's outermost `act`). */
  actor: string;
  /** The target services' ids. */
  target: string[];
  scopes: string[];
  /** The actors already in the subject token's `act`, innermost last. */
  chain: string[];
  ip: string;
}

/** Each distinct exchange is written at most once per window; repeats are counted. */
const WINDOW_MS = 60_000;
/** At most this many distinct exchanges are written per window; the rest are summed in one row. */
const MAX_ROWS_PER_WINDOW = 500;

/**
 * Writes token exchanges to the audit trail as `token.exchanged`, summarised: the first
 * exchange of a subject, actor, target, scopes and address in a window (a minute of the
 * app's clock) is written at once, and at the end of the window one more row carries how
 * many times it repeated. A service exchanging a token for every call it serves thus costs
 * the database a few rows a minute, not one per token, and the trail still says who acted
 * for whom, where, with what, and how often.
 */
export class ExchangeRecorder {
  private seen = new Map<string, { exchange: TokenExchange; repeats: number }>();
  private overflow = 0;
  private windowStartedAt: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
    private readonly now: Clock = systemClock,
  ) {
    this.windowStartedAt = now();
  }

  record(exchange: TokenExchange): void {
    if (this.now() - this.windowStartedAt >= WINDOW_MS) this.flush().catch(this.onError);
    const key = [
      exchange.subject,
      exchange.actor,
      exchange.target.join(' '),
      exchange.scopes.join(' '),
      exchange.chain.join(' '),
      exchange.ip,
    ].join('\u0000');
    const entry = this.seen.get(key);
    if (entry !== undefined) {
      entry.repeats += 1;
      return;
    }
    if (this.seen.size >= MAX_ROWS_PER_WINDOW) {
      this.overflow += 1;
      return;
    }
    this.seen.set(key, { exchange, repeats: 0 });
    this.write([{ exchange, count: 1 }]).catch(this.onError);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch(this.onError);
    }, WINDOW_MS).unref();
  }

  /** Writes the repeat counts of the window that ends now and opens a new one. */
  async flush(): Promise<void> {
    const rows = [...this.seen.values()]
      .filter((entry) => entry.repeats > 0)
      .map((entry) => ({ exchange: entry.exchange as TokenExchange | undefined, count: entry.repeats }));
    if (this.overflow > 0) rows.push({ exchange: undefined, count: this.overflow });
    this.seen = new Map();
    this.overflow = 0;
    this.windowStartedAt = this.now();
    await this.write(rows);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(rows: Array<{ exchange: TokenExchange | undefined; count: number }>): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insert(auditEvents).values(
      rows.map(({ exchange, count }) =>
        exchange === undefined
          ? { action: 'token.exchanged', details: { summary: 'too many distinct exchanges to list' }, count }
          : {
              action: 'token.exchanged',
              actorClientId: exchange.actor,
              clientId: exchange.subjectClientId ?? null,
              ip: exchange.ip === '' ? null : exchange.ip,
              details: {
                subject: exchange.subject,
                actor: exchange.actor,
                target: exchange.target,
                scopes: exchange.scopes,
                ...(exchange.chain.length > 0 && { chain: exchange.chain }),
              },
              count,
            },
      ),
    );
  }
}
