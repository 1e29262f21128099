import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics at GET /metrics: process metrics (CPU, memory, event loop lag, GC)
 * and what the token endpoint did. One registry per server, so tests can build several.
 */
export class Metrics {
  readonly registry = new Registry();

  /** Token endpoint outcomes: `issued`, or the RFC 6749 error code. */
  readonly tokenRequests = new Counter({
    name: 'portier_token_requests_total',
    help: 'Token endpoint requests by outcome (issued or the OAuth error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly tokenDuration = new Histogram({
    name: 'portier_token_request_duration_seconds',
    help: 'Time to answer a token request',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  /** argon2id verifications of presented secrets: the work a flood of wrong secrets costs. */
  readonly argon2Verifications = new Counter({
    name: 'portier_argon2_verifications_total',
    help: 'argon2id verifications of presented client secrets (dummy ones included)',
    registers: [this.registry],
  });

  /** Connections the caps closed (see protection/connections.ts), by why. */
  readonly connectionsClosed = new Counter({
    name: 'portier_connections_closed_total',
    help: 'Connections closed by the connection caps: per_address_cap, slow_head (no request head within 1 s near MAX_CONNECTIONS), made_room (for a new connection at MAX_CONNECTIONS), refused (at MAX_CONNECTIONS, no room)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** The issuance hook (policy/hook.ts): how long each call took, by outcome. */
  readonly tokenHookDuration = new Histogram({
    name: 'portier_token_hook_duration_seconds',
    help: 'Time of a call to the issuance hook, by outcome (claims, deny or failure)',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly tokenHookFailures = new Counter({
    name: 'portier_token_hook_failures_total',
    help: 'Failed calls to the issuance hook, by reason (timeout, connection, status, too_large, not_json, invalid_answer)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly tokenHookReusedAnswers = new Counter({
    name: 'portier_token_hook_reused_answers_total',
    help: 'Answers of the issuance hook given again without a call, as its cache_for allowed, by outcome (claims or deny)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Token requests beyond a client's quota (policy/quota.ts): refused (enforce) or issued and logged (log). */
  readonly tokenQuotaExceeded = new Counter({
    name: 'portier_token_quota_exceeded_total',
    help: 'Token requests beyond the client quota, by mode (enforce: refused; log: issued)',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });

  /** Background writes of counts that failed (kept and written later): quota counts and usage. */
  readonly countWriteFailures = new Counter({
    name: 'portier_count_write_failures_total',
    help: 'Failed writes of quota counts or usage counts (the counts are kept and written later)',
    labelNames: ['counts'] as const,
    registers: [this.registry],
  });

  readonly usageCountsDropped = new Counter({
    name: 'portier_usage_counts_dropped_total',
    help: 'Usage counts dropped because too many were waiting to be written (a long database outage)',
    registers: [this.registry],
  });

  /** Webhook deliveries (events/worker.ts): each attempt's result. */
  readonly webhookDeliveries = new Counter({
    name: 'portier_webhook_deliveries_total',
    help: 'Attempts at webhook deliveries, by result (delivered; retry: failed, tried again later; failed: the last attempt failed; lost_lease: another instance took it over)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveryLag = new Histogram({
    name: 'portier_webhook_delivery_lag_seconds',
    help: 'Time from an event to its delivery to a webhook',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 21_600, 86_400],
    registers: [this.registry],
  });

  /** Email notices to owners (events/mail.ts): each attempt's result. */
  readonly emailNotices = new Counter({
    name: 'portier_email_notices_total',
    help: 'Attempts at sending email notices, by result (sent; retry: failed, tried again later; failed: the last attempt failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'portier_' });
  }
}

export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const { metrics } = app.portier;
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
