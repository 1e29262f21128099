import type { Db } from '../db/connect.js';
import type { Clock } from '../lib/clock.js';
import { traceContext } from '../lib/trace-context.js';
import {
  type Attempt,
  type ClaimedDelivery,
  claimDeliveries,
  type DeliveryResult,
  type DeliverySettings,
  type EventMessage,
  eventMessage,
  leaseMs,
  recordOutcomes,
  type SendOutcome,
  signedRequest,
} from './deliveries.js';
import type { WebhookSender } from './sender.js';

/** How often each instance looks for deliveries written by others (its own changes wake it at once). */
export const DELIVERY_POLL_MS = 1000;
/** Deliveries claimed at once: each the head of a different webhook's queue. */
const CLAIM_BATCH = 20;

export interface DeliveryObserver {
  /** A delivery's attempt ended; `lagSeconds` from the event to its delivery, when delivered. */
  attempted(result: DeliveryResult, lagSeconds: number | undefined): void;
  error(error: unknown): void;
}

/**
 * Sends the deliveries of every webhook, on every instance: claims what is due
 * (events/deliveries.ts), sends each (the heads of different webhooks' queues) at once,
 * records the outcomes, and goes on while there is more; then looks again after
 * DELIVERY_POLL_MS, or at once when `nudge` says this instance wrote an event. Never on
 * the token path: nothing there waits for it. A database error is reported and tried
 * again at the next look.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly aborts = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly sender: WebhookSender,
    private readonly settings: DeliverySettings,
    private readonly clock: Clock,
    private readonly observer: DeliveryObserver,
  ) {}

  start(): void {
    this.stopped = false;
    this.nudge();
  }

  /** Looks for due deliveries now (after this instance wrote events). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    // Not part of the request that woke it: its queries and sends belong to no request's trace.
    this.running = traceContext()
      .detached(() => this.run())
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.nudge();
        } else this.schedule();
      });
  }

  /**
   * Stops looking, and ends sends under way without recording them, as a stopped process
   * would: their leases run out and another instance (or this one after a restart) sends
   * them again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.aborts.abort();
    await this.running;
    await this.sender.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nudge();
    }, DELIVERY_POLL_MS).unref();
  }

  /**
   * Claims a batch (one query for the lease, one for what it names), sends it all at once,
   * and records the outcomes together (the delivered ones in one statement): a handful of
   * queries per batch, however many webhooks an event goes to.
   */
  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const claimed = await claimDeliveries(this.db, this.clock(), leaseMs(this.settings), CLAIM_BATCH);
        if (claimed.length === 0) return;
        // An event going to several webhooks is made into a message once per mode, then signed for each.
        const messages = new Map<string, EventMessage>();
        const attempts = await Promise.all(claimed.map((delivery) => this.send(delivery, messages)));
        if (this.stopped) return;
        const now = this.clock();
        const results = await recordOutcomes(this.db, attempts, now, this.settings);
        results.forEach((result, index) => {
          const eventAt = attempts[index]?.claimed.event.at.getTime() ?? now;
          this.observer.attempted(result, result === 'delivered' ? Math.max(0, now - eventAt) / 1000 : undefined);
        });
      }
    } catch (error) {
      this.observer.error(error);
    }
  }

  private async send(claimed: ClaimedDelivery, messages: Map<string, EventMessage>): Promise<Attempt> {
    let outcome: SendOutcome;
    try {
      const key = `${claimed.event.id}:${claimed.webhook.mode}`;
      const message = messages.get(key) ?? eventMessage(claimed.event, claimed.webhook.mode, this.settings.source);
      messages.set(key, message);
      const signed = signedRequest(claimed, this.settings, this.clock(), message);
      outcome = await traceContext().sendWithin(signed.traceparent, signed.headers, () => this.sender.send(signed, this.aborts.signal));
    } catch (error) {
      // A secret that cannot be opened (KEY_ENCRYPTION_KEY changed): a failed attempt like any other.
      outcome = { ok: false, status: null, error: error instanceof Error ? error.message : String(error) };
    }
    return { claimed, outcome };
  }
}
