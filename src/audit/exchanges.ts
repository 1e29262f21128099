import { insertAuditEvents } from './store.js';
import { WindowedWriter } from './windowed.js';

/** One token exchange (RFC 8693) that issued a token. */
export interface TokenExchange {
  /** The subject the new token is for: a client_id, or `<trusted issuer id>:<sub>`. */
  subject: string;
  /** The client_id of the subject's client, when the subject is a Portier client. */
  subjectClientId: string | undefined;
  /** The client the new token's outermost `act` names. */
  actor: string;
  /** The client that sent the request, when it is not the actor (it presented a listed actor's actor_token). */
  presentedBy: string | undefined;
  /** The target services' ids. */
  target: string[];
  scopes: string[];
  /** The actors already in the subject token's `act`, innermost last. */
  chain: string[];
  ip: string;
}

/** A row to write: an exchange (none for the overflow's) and how many times it stands for. */
interface Row {
  exchange: TokenExchange | undefined;
  count: number;
}

/**
 * Writes token exchanges to the audit trail as `token.exchanged`, summarised: the first
 * exchange of a subject, actor, target, scopes and address in a window (a minute of the
 * app's clock) is written at once, and at the end of the window one more row carries how
 * many times it repeated. A service exchanging a token for every call it serves thus costs
 * the database a few rows a minute, not one per token, and the trail still says who acted
 * for whom, where, with what, and how often.
 */
export class ExchangeRecorder extends WindowedWriter<TokenExchange, Row> {
  record(exchange: TokenExchange): void {
    this.rollWindow();
    const key = [
      exchange.subject,
      exchange.actor,
      exchange.presentedBy ?? '',
      exchange.target.join(' '),
      exchange.scopes.join(' '),
      exchange.chain.join(' '),
      exchange.ip,
    ].join('\u0000');
    this.count(key, exchange, { exchange, count: 1 });
  }

  protected closeWindow(repeated: Array<{ entry: TokenExchange; repeats: number }>, overflow: number): Row[] {
    const rows: Row[] = repeated.map((entry) => ({ exchange: entry.entry, count: entry.repeats }));
    if (overflow > 0) rows.push({ exchange: undefined, count: overflow });
    return rows;
  }

  protected async write(rows: Row[]): Promise<void> {
    await insertAuditEvents(
      this.db,
      rows.map(({ exchange, count }) =>
        exchange === undefined
          ? { action: 'token.exchanged', details: { summary: 'too many distinct exchanges to list' }, count }
          : {
              action: 'token.exchanged',
              actorClientId: exchange.presentedBy ?? exchange.actor,
              clientId: exchange.subjectClientId ?? null,
              ip: exchange.ip === '' ? null : exchange.ip,
              details: {
                subject: exchange.subject,
                actor: exchange.actor,
                ...(exchange.presentedBy !== undefined && { presented_by: exchange.presentedBy }),
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
