import type { Logger } from 'pino';
import { evictOldest } from './cached.js';
import { systemClock } from './clock.js';

/** Bound on memory: at most this many distinct kinds of event are tracked. */
const MAX_KINDS = 1000;

/**
 * Logs repeated events at most once per `intervalMs` for each kind, with how many times
 * the kind happened since the last line. A database outage fails every request the same
 * way; logging each failure would write hundreds of megabytes a minute and drown what
 * matters. The first occurrence is logged at once; the repeats are summed into the next
 * line for that kind, or into a closing line once the interval has passed.
 */
export class RepeatedLog {
  private readonly kinds = new Map<
    string,
    { loggedAt: number; suppressed: number; timer: NodeJS.Timeout | undefined; fields: Record<string, unknown> }
  >();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  error(kind: string, fields: Record<string, unknown>, message: string): void {
    this.write('error', kind, fields, message);
  }

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    this.write('warn', kind, fields, message);
  }

  info(kind: string, fields: Record<string, unknown>, message: string): void {
    this.write('info', kind, fields, message);
  }

  private write(level: 'error' | 'warn' | 'info', kind: string, fields: Record<string, unknown>, message: string): void {
    const now = systemClock();
    const state = this.kinds.get(kind);
    if (state !== undefined && now - state.loggedAt < this.intervalMs) {
      state.suppressed += 1;
      state.fields = fields;
      // One closing line per quiet spell, so the last repeats are counted too; it carries
      // the fields of the last of them.
      state.timer ??= setTimeout(
        () => {
          state.timer = undefined;
          if (state.suppressed === 0) return;
          this.logger[level]({ ...state.fields, kind, repeated: state.suppressed }, `${message} (repeated)`);
          state.suppressed = 0;
          state.loggedAt = systemClock();
        },
        this.intervalMs - (now - state.loggedAt),
      ).unref();
      return;
    }
    const repeated = state?.suppressed ?? 0;
    if (state?.timer !== undefined) clearTimeout(state.timer);
    this.kinds.delete(kind);
    if (this.kinds.size >= MAX_KINDS) evictOldest(this.kinds);
    this.kinds.set(kind, { loggedAt: now, suppressed: 0, timer: undefined, fields });
    this.logger[level]({ ...fields, kind, ...(repeated > 0 && { repeated }) }, message);
  }
}
