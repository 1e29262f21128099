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
