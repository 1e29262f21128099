import type { FastifyInstance } from 'fastify';
import { clientFields } from '../lib/redact.js';
import { OAUTH_PATHS } from './endpoints.js';
import { type OAuthError, QuotaExceeded, TemporarilyUnavailable, TooManyRequests, UseDpopNonce } from './errors.js';
import type { TokenEvents } from './token-events.js';

/**
 * Who listens to the token endpoints (oauth/token-events.ts), in one place: each listener
 * below is one concern's whole reaction. Subscribed once, when Portier is made.
 */
type Services = Pick<FastifyInstance['portier'], 'usage' | 'lastUsed' | 'metrics' | 'denials' | 'exchanges' | 'repeatedLog'>;

export function subscribeTokenListeners(events: TokenEvents, services: Services): void {
  const { usage, lastUsed, metrics, denials, exchanges, repeatedLog } = services;
  const { tokenRequests, tokenDuration } = metrics;

  // Metrics: every answer of the token endpoint, by outcome, and how long our work took
  // (before a refusal is held back: the histogram is about our work, not the tarpit's).
  events.on('token.issued', (event) => {
    tokenDuration.observe((performance.now() - event.startedAt) / 1000);
    tokenRequests.inc({ outcome: 'issued' });
  });
  events.on('token.refused', (event) => {
    if (event.endpoint !== OAUTH_PATHS.token) return;
    tokenDuration.observe((performance.now() - event.startedAt) / 1000);
    tokenRequests.inc({ outcome: event.error?.error ?? 'server_error' });
  });

  // Usage per client (policy/usage.ts): tokens, and refusals of a token request naming a
  // client that exists, for any reason but the nonce challenge, which is a step of the protocol.
  events.on('token.issued', (event) => usage.issued(event.outcome.client.clientId, event.now));
  events.on('token.refused', ({ endpoint, error, now }) => {
    if (endpoint !== OAUTH_PATHS.token || error === undefined || error instanceof UseDpopNonce) return;
    if (error.client !== undefined && 'clientId' in error.client) usage.refused(error.client.clientId, now);
  });

  // The client's and its credential's last_used_at (written every 5 s, clients/last-used.ts).
  events.on('token.issued', ({ outcome, now }) =>
    lastUsed.record(outcome.client.uuid, new Date(now), outcome.identity, outcome.credentialId),
  );

  // The audit trail: token exchanges (summarised, audit/exchanges.ts) and refusals
  // (throttled, audit/denials.ts). A nonce challenge (DPOP_NONCE=true) is part of the
  // protocol, the first answer most DPoP clients get, and a 503 is no refusal of the client:
  // neither is a denial (the metrics count them).
  events.on('token.issued', ({ outcome, ip }) => {
    const { exchange, client, services: granted, token } = outcome;
    if (exchange === undefined) return;
    exchanges.record({
      subject: exchange.subject,
      subjectClientId: exchange.subjectClientId,
      actor: exchange.actor,
      presentedBy: exchange.actor === client.clientId ? undefined : client.clientId,
      target: granted.map((service) => service.serviceId),
      scopes: token.scope === '' ? [] : token.scope.split(' '),
      chain: exchange.chain,
      ip,
    });
  });
  events.on('token.refused', ({ endpoint, error, ip }) => {
    if (!isDenial(error)) return;
    const presentedClientId = error instanceof TooManyRequests ? error.presentedClientId() : undefined;
    denials.record({ client: error.client, ip, error: error.error, reason: reasonOf(error), endpoint, presentedClientId });
  });

  // The log: each token at debug; refusals at most a line a second per kind, with a count
  // (a flood of wrong secrets, hook denials: per client or, naming none, per address).
  events.on('token.issued', ({ outcome, log }) =>
    log.debug({ client_id: outcome.client.clientId, jti: outcome.token.jti, scope: outcome.token.scope }, 'token issued'),
  );
  events.on('token.refused', ({ endpoint, error, ip }) => {
    if (!isDenial(error)) return;
    const reason = reasonOf(error);
    if (error instanceof QuotaExceeded) {
      repeatedLog.warn(`quota ${clientFields(error.client).client_id}`, clientFields(error.client), reason);
    } else if (error instanceof TooManyRequests) {
      repeatedLog.warn(`throttled ${ip}`, { ip, endpoint }, 'caller over its failure budget');
    } else {
      const fields = clientFields(error.client);
      repeatedLog.info(
        `refused ${fields.client_id ?? `address ${ip}`} ${error.error} ${reason}`,
        { ...fields, error: error.error, reason },
        'request refused',
      );
    }
  });
}

/** A refusal of the caller: not a nonce challenge, not a 503, not a failure of ours. */
function isDenial(error: OAuthError | undefined): error is OAuthError {
  return error !== undefined && !(error instanceof UseDpopNonce) && !(error instanceof TemporarilyUnavailable);
}

/** The private detail when there is one (log and audit only), else the public description. */
function reasonOf(error: OAuthError): string {
  return error.detail ?? error.description;
}
