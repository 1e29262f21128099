import type { Config } from '../config.js';
import { pruneExpired } from '../db/retention.js';
import { print, type Session, UsageError } from './common.js';

/**
 * `portier prune`: the retention pruning the servers run hourly, now (in the same batches,
 * under the same lock). Prints how many rows of each table went.
 */
export async function pruneCommand(session: Session, config: Config, sub: string | undefined): Promise<void> {
  if (sub !== undefined) throw new UsageError(`prune takes no argument, got "${sub}"`);
  const deleted = await pruneExpired(session.database, { now: session.clock(), auditRetentionDays: config.auditRetentionDays });
  const total = Object.values(deleted).reduce((sum, count) => sum + count, 0);
  session.out.stderr(`deleted ${total} expired row(s)\n`);
  print(session.out, { deleted });
}
