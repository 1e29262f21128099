import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Holds throttled answers back for a moment. A 429, or a 503 for a full argon2 queue (see
 * OAuthError.holdBackMs), costs almost nothing to make, but a flooding connection that got
 * it at once would simply ask again, thousands of times a second, and cheap refusals would
 * crowd out legitimate requests on the event loop. Held for `delayMs`, each flooding
 * connection gets about one answer per `delayMs`.
 *
 * At most `maxHeld` answers wait at once (the connection caps bound them too); beyond
 * that an answer goes at once and the caller is told to close the connection.
 */
export class Tarpit {
  private held = 0;

  constructor(
    private readonly delayMs: number,
    private readonly maxHeld = 1000,
  ) {}

  /** Waits up to `delayMs` (never longer than `atMostMs`); false when too many answers wait already. */
  async hold(atMostMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const ms = Math.min(this.delayMs, atMostMs);
    if (ms <= 0) return true;
    if (this.held >= this.maxHeld) return false;
    this.held += 1;
    try {
      await sleep(ms);
    } finally {
      this.held -= 1;
    }
    return true;
  }
}
