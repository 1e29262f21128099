/** Admission refused: the work would wait in a queue that is already full. */
export class Overloaded extends Error {
  override name = 'Overloaded';
}

/**
 * Runs expensive work (argon2id verifications) at most `concurrency` at a time, with at
 * most `queueLimit` more waiting their turn. Work that would find the queue full is refused
 * at once with Overloaded, so a flood of it cannot pile up (the token endpoint holds such
 * answers back: see VerificationQueueFull), and everything that does not need this work
 * (a secret already recognised, signing) never waits behind it.
 */
export class Admission {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) throw new Overloaded('too much verification work queued');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next in line, or give it back.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }

  /** Whether run() would refuse new work now (Overloaded). */
  get full(): boolean {
    return this.running >= this.concurrency && this.waiting.length >= this.queueLimit;
  }

  /** Work under way and work waiting, for metrics and tests. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
