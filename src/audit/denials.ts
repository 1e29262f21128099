import { type ClientReference, clientFields, redactSecrets } from '../lib/redact.js';
import { addressKey } from '../protection/failure-budget.js';
import { existingClientIds, insertAuditEvents } from './store.js';
import { WindowedWriter } from './windowed.js';

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
  /**
   * A request refused before its client was looked up (over a failure budget): the
   * client_id it presented, when that has the form of one. Kept in memory until the row is
   * written, and written only if a client has it (see DenialRecorder).
   */
  presentedClientId?: string | undefined;
}

/** A summary row names at most this many of the client_ids presented. */
const NAMED_PER_SUMMARY = 10;
/** A summary counts at most this many distinct client_ids (a fingerprint each): memory stays bounded. */
const MAX_DISTINCT_COUNTED = 10_000;

/** A row to write: a denial and how many times it stands for. */
interface Row {
  denial: TokenDenial;
  count: number;
  /** For a summary: what its window saw besides. */
  summary?: { named: NamedClient[]; distinct: number; endpoints: string[] };
}

interface NamedClient {
  reference: { fingerprint: string; length: number };
  /** See TokenDenial.presentedClientId. */
  clientId: string | undefined;
}

/** The refusals of one address, error and reason that name no existing client, in one window. */
interface Summary {
  /** The first refusal, written at once. */
  first: TokenDenial;
  /** Refusals after the first. */
  repeats: number;
  named: Map<string, NamedClient>;
  distinct: Set<string>;
  endpoints: Set<string>;
}

/**
 * Writes refused token requests to the audit trail, throttled so that a flood of bad
 * requests cannot fill the database. Time is the app's clock; a window is a minute.
 *
 * - A refusal that names an existing client is written once per window for each (client,
 *   ip, reason), and at the end of the window one more row carries how many times it
 *   repeated.
 * - A refusal that names no existing client (a made-up client_id, and a request refused
 *   over its failure budget before any client was looked up) is summarised per source
 *   address (an IPv6 /64, as the budgets count), error and reason, not per client_id: the
 *   first is written at once, the rest of the window in one row with the count, how many
 *   distinct client_ids were presented, up to NAMED_PER_SUMMARY of them, and the endpoints.
 *   A client_id presented is named by its fingerprint, or by itself if a client has it
 *   (who was attacked), so a flood of random client_ids from one address costs a few rows a
 *   minute, not one per client_id.
 * - Beyond MAX_ROWS_PER_WINDOW (windowed.ts) distinct denials and summaries in a window, the rest become
 *   a single row.
 */
export class DenialRecorder extends WindowedWriter<TokenDenial, Row> {
  private summaries = new Map<string, Summary>();

  record(denial: TokenDenial): void {
    this.rollWindow();
    if (denial.client !== undefined && !('clientId' in denial.client)) {
      this.summarise(denial, denial.client);
      return;
    }
    this.count(`${clientKey(denial.client)}\u0000${denial.ip}\u0000${denial.reason}`, denial, { denial, count: 1 });
  }

  protected closeWindow(repeated: Array<{ entry: TokenDenial; repeats: number }>, overflow: number): Row[] {
    const summaries = [...this.summaries.values()].filter((summary) => summary.repeats > 0);
    this.summaries = new Map();
    const rows: Row[] = repeated.map((entry) => ({ denial: entry.entry, count: entry.repeats }));
    for (const summary of summaries) {
      rows.push({
        denial: { ...summary.first, client: undefined, presentedClientId: undefined },
        count: summary.repeats,
        summary: { named: [...summary.named.values()], distinct: summary.distinct.size, endpoints: [...summary.endpoints] },
      });
    }
    if (overflow > 0) {
      rows.push({ denial: { client: undefined, ip: '', error: 'various', reason: 'too many distinct denials to list' }, count: overflow });
    }
    return rows;
  }

  protected override otherRows(): number {
    return this.summaries.size;
  }

  private summarise(denial: TokenDenial, reference: { fingerprint: string; length: number }): void {
    const ip = addressKey(denial.ip);
    const key = `${ip}\u0000${denial.error}\u0000${denial.reason}`;
    const summary = this.summaries.get(key);
    if (summary === undefined) {
      if (!this.roomForAnotherRow()) return;
      const first = { ...denial, ip };
      this.summaries.set(key, {
        first,
        repeats: 0,
        named: new Map(),
        distinct: new Set(),
        endpoints: new Set(),
      });
      this.writeNow({ denial: first, count: 1 });
      return;
    }
    summary.repeats += 1;
    if (summary.distinct.size < MAX_DISTINCT_COUNTED) summary.distinct.add(reference.fingerprint);
    if (denial.endpoint !== undefined) summary.endpoints.add(denial.endpoint);
    if (summary.named.size < NAMED_PER_SUMMARY && !summary.named.has(reference.fingerprint)) {
      summary.named.set(reference.fingerprint, { reference, clientId: denial.presentedClientId });
    }
  }

  protected async write(rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    const existing = await this.existingClients(rows);
    await insertAuditEvents(
      this.db,
      rows.map(({ denial, count, summary }) => {
        const named = summary?.named ?? [
          ...(denial.client !== undefined && !('clientId' in denial.client)
            ? [{ reference: denial.client, clientId: denial.presentedClientId }]
            : []),
        ];
        const clientIds = named.flatMap((entry) => (entry.clientId !== undefined && existing.has(entry.clientId) ? [entry.clientId] : []));
        const presented = named
          .filter((entry) => entry.clientId === undefined || !existing.has(entry.clientId))
          .map((entry) => entry.reference);
        // The row is about one client when the only client_id it names is one that exists.
        const only = clientIds.length === 1 && presented.length === 0 ? clientIds[0] : undefined;
        const client: ClientReference | undefined =
          denial.client !== undefined && 'clientId' in denial.client ? denial.client : only !== undefined ? { clientId: only } : undefined;
        const { client_id: clientId = null } = clientFields(client);
        const endpoints = summary?.endpoints ?? [];
        return {
          action: 'token.denied',
          actorClientId: clientId,
          clientId,
          ip: denial.ip === '' ? null : denial.ip,
          details: {
            error: denial.error,
            reason: redactSecrets(denial.reason),
            ...(summary === undefined
              ? {
                  ...(clientId === null && presented[0] !== undefined && { presented_client_id: presented[0] }),
                  ...(denial.endpoint !== undefined && { endpoint: denial.endpoint }),
                }
              : {
                  distinct_client_ids: summary.distinct,
                  ...(clientIds.length > 0 && { client_ids: clientIds }),
                  ...(presented.length > 0 && { presented_client_ids: presented }),
                  ...(endpoints.length === 1 ? { endpoint: endpoints[0] } : endpoints.length > 1 && { endpoints }),
                }),
          },
          count,
        };
      }),
    );
  }

  /** Which of the client_ids that rows may name exist: one query for all of them, none when there are none. */
  private async existingClients(rows: Row[]): Promise<Set<string>> {
    const candidates = new Set<string>();
    for (const { denial, summary } of rows) {
      if (denial.presentedClientId !== undefined) candidates.add(denial.presentedClientId);
      for (const entry of summary?.named ?? []) if (entry.clientId !== undefined) candidates.add(entry.clientId);
    }
    return existingClientIds(this.db, [...candidates]);
  }
}

function clientKey(client: ClientReference | undefined): string {
  return client !== undefined && 'clientId' in client ? `id:${client.clientId}` : '';
}
