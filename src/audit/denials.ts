import type { Db } from '../db/connect.js';
import { auditEvents } from '../db/schema.js';
import { type ClientReference, clientFields, redactSecrets } from '../lib/redact.js';

export interface TokenDenial {
  /** The client the request named, if any: by client_id only when such a client exists. */
  client: ClientReference | undefined;
  ip: string;
  /** The public error code. */
  error: string;
  /** The real reason, never sent to the caller. */
  reason: string;
  /** Which endpoint refused: token, introspection or revocation. */
  endpoint?: string;
}

/** Each distinct (client, ip, reason) is written at most once per window; repeats are counted. */
const WINDOW_MS = 60_000;
/** At most this many distinct denials are written per window; the rest are summed in one row. */
const MAX_ROWS_PER_WINDOW = 500;

/**
 * Writes refused token requests to the audit trail, throttled so that a flood of bad
 * requests (say, random client_ids) cannot fill the database: within each minute a
 * distinct denial is written once, and at the end of the minute one more row carries how
 * many times it repeated. Beyond MAX_ROWS_PER_WINDOW distinct denials per minute, the
 * rest become a single summary row.
 */
export class DenialRecorder {
  private seen = new Map<string, { denial: TokenDenial; repeats: number }>();
  private overflow = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
  ) {}

  record(denial: TokenDenial): void {
    const key = `${clientKey(denial.client)}\u0000${denial.ip}\u0000${denial.reason}`;
    const entry = this.seen.get(key);
    if (entry !== undefined) {
      entry.repeats += 1;
      return;
    }
    if (this.seen.size >= MAX_ROWS_PER_WINDOW) {
      this.overflow += 1;
      return;
    }
    this.seen.set(key, { denial, repeats: 0 });
    this.write([{ denial, count: 1 }]).catch(this.onError);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch(this.onError);
    }, WINDOW_MS).unref();
  }

  /** Writes the repeat counts of the window that ends now and opens a new one. */
  async flush(): Promise<void> {
    const repeated = [...this.seen.values()].filter((entry) => entry.repeats > 0);
    const overflow = this.overflow;
    this.seen = new Map();
    this.overflow = 0;
    const rows = repeated.map((entry) => ({ denial: entry.denial, count: entry.repeats }));
    if (overflow > 0) {
      rows.push({ denial: { client: undefined, ip: '', error: 'various', reason: 'too many distinct denials to list' }, count: overflow });
    }
    await this.write(rows);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(rows: Array<{ denial: TokenDenial; count: number }>): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insert(auditEvents).values(
      rows.map(({ denial, count }) => {
        const { client_id: clientId = null, presented_client_id } = clientFields(denial.client);
        return {
          action: 'token.denied',
          actorClientId: clientId,
          clientId,
          ip: denial.ip === '' ? null : denial.ip,
          details: {
            error: denial.error,
            reason: redactSecrets(denial.reason),
            ...(presented_client_id !== undefined && { presented_client_id }),
            ...(denial.endpoint !== undefined && { endpoint: denial.endpoint }),
          },
          count,
        };
      }),
    );
  }
}

function clientKey(client: ClientReference | undefined): string {
  if (client === undefined) return '';
  return 'clientId' in client ? `id:${client.clientId}` : `fp:${client.fingerprint}`;
}
