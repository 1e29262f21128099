import { Worker } from 'node:worker_threads';

/** What a thread of the pool (argon2-worker.js) answers. */
type VerifyAnswer = { id: number; ok: boolean };

/**
 * argon2id verifications on a few threads of their own, each at the lowest CPU priority
 * (see argon2-worker.js), instead of on libuv's thread pool.
 *
 * Why: token signing runs on libuv's pool, on every core, and must not wait for argon2id.
 * On the shared pool a flood of wrong secrets takes CPU time from every legitimate token
 * request; at low priority the operating system gives argon2id only what the token path
 * leaves idle, so the flood slows down (and its queue fills: 503, see admission.ts) rather
 * than the clients whose secret is already recognised.
 *
 * Admission (admission.ts) bounds the work in flight to the pool's size; the pool gives
 * each verification to an idle thread, starting one if it has fewer than `size`, or queues
 * it until one is free. Threads start on first use and never keep the process alive.
 */
export class Argon2Pool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, (ok: boolean) => void>();
  private readonly waiting: Array<() => void> = [];
  private started = 0;
  private nextId = 0;
  /** Threads that reported their priority lowered (all of them, on Linux). */
  lowPriorityThreads = 0;

  constructor(private readonly size: number) {}

  /** Threads running now (they start on first use, up to `size`). */
  get threads(): number {
    return this.started;
  }

  async verify(hash: string, presented: string): Promise<boolean> {
    let worker = this.idle.pop();
    while (worker === undefined) {
      if (this.started < this.size) worker = this.start();
      else {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        worker = this.idle.pop();
      }
    }
    const thread = worker;
    return new Promise<boolean>((resolve) => {
      this.busy.set(thread, resolve);
      // A thread at work keeps the process alive until it answers; an idle one does not.
      thread.ref();
      thread.postMessage({ id: this.nextId++, hash, presented });
    });
  }

  /** Stops the threads; a verification under way answers false. */
  async close(): Promise<void> {
    const threads = [...this.idle.splice(0), ...this.busy.keys()];
    for (const resolve of this.busy.values()) resolve(false);
    this.busy.clear();
    this.started = this.size; // nothing new starts
    await Promise.all(threads.map((thread) => thread.terminate()));
  }

  private start(): Worker {
    this.started += 1;
    // Plain JavaScript that needs none of the process's own flags (loaders, --input-type…).
    const thread = new Worker(new URL('./argon2-worker.js', import.meta.url), { execArgv: [] });
    thread.on('message', (message: VerifyAnswer | { lowered: boolean }) => {
      if (!('id' in message)) {
        if (message.lowered) this.lowPriorityThreads += 1;
        return;
      }
      this.finish(thread, message.ok, true);
    });
    // A thread that dies takes its verification with it: that secret does not verify, and
    // a new thread takes the dead one's place on next use.
    // The reason goes nowhere useful; what matters is what 'exit' does next. (Without a
    // listener, a thread's error would be thrown in the event loop.)
    thread.on('error', () => {});
    thread.on('exit', () => {
      const idleAt = this.idle.indexOf(thread);
      if (idleAt >= 0) this.idle.splice(idleAt, 1);
      this.finish(thread, false, false);
      this.started -= 1;
      this.waiting.shift()?.();
    });
    // Idle threads must not keep the process alive (after the listeners: adding one refs it again).
    thread.unref();
    return thread;
  }

  private finish(thread: Worker, ok: boolean, reusable: boolean): void {
    const resolve = this.busy.get(thread);
    this.busy.delete(thread);
    thread.unref();
    resolve?.(ok);
    if (!reusable) return;
    this.idle.push(thread);
    this.waiting.shift()?.();
  }
}

const sharedPools = new Map<number, Argon2Pool>();

/**
 * The process's pool of `size` threads. One per process, like libuv's own pool: several
 * apps in one process (tests) share its threads instead of starting their own, and its
 * threads never keep the process alive, so it is never closed.
 */
export function sharedArgon2Pool(size: number): Argon2Pool {
  let pool = sharedPools.get(size);
  if (pool === undefined) {
    pool = new Argon2Pool(size);
    sharedPools.set(size, pool);
  }
  return pool;
}
