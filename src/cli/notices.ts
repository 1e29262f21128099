import type { Config } from '../config.js';
import { giveNotices } from '../events/notices.js';
import { noticeSettings } from '../portier.js';
import { print, type Session, UsageError } from './common.js';

/**
 * `portier notices`: the check the servers run at start and hourly, now. Gives the notices
 * due that have not been given (each once, whoever checks), and prints how many by kind.
 */
export async function noticesCommand(session: Session, config: Config, sub: string | undefined): Promise<void> {
  if (sub !== undefined) throw new UsageError(`notices takes no argument, got "${sub}"`);
  const given = await giveNotices(session.database.db, noticeSettings(config), session.clock());
  session.out.stderr(`gave ${given.expiring + given.expired + given.dormant + given.over_policy} notice(s)\n`);
  print(session.out, { given });
}
