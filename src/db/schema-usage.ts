import { bigint, index, pgTable, primaryKey, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clients } from './schema.js';

// The usage counts per client and hour (policy/usage.ts), beside schema.ts's tables
// (drizzle.config.ts names every schema file).

/**
 * Tokens issued and requests refused per client and UTC hour: the usage the admin API
 * shows (GET /admin/clients/{id}/usage). Each instance sums its counts in memory and adds
 * them here about once a minute (policy/usage.ts); rows older than the longest window
 * shown (90 days) are pruned.
 */
export const clientUsage = pgTable(
  'client_usage',
  {
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    hourStart: timestamp('hour_start', { withTimezone: true }).notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
    refusals: bigint('refusals', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.clientUuid, t.hourStart] }), index('client_usage_hour_idx').on(t.hourStart)],
);
