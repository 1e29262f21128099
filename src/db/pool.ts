import pg from 'pg';
import { isDatabaseUnavailable } from './errors.js';

/** Set while a client is checked out through GuardedPool.connect(). */
const checkedOut = Symbol('checkedOut');

type GuardedClient = pg.PoolClient & { [checkedOut]?: boolean };

/**
 * A pg.Pool that never loses a connection to a broken client, and never lets one end the
 * process. Drizzle checks a client out for each transaction (`connect()`), and its
 * node-postgres driver has two faults there (drizzle-orm 0.45, still open upstream):
 * - it sends BEGIN before the try/finally that releases the client, so a BEGIN that fails
 *   (PgBouncer answering it with a FATAL once PostgreSQL has gone, a backend terminated, a
 *   query timeout) leaks the client for good, and a few such failures exhaust the pool;
 * - it always releases without an error, so a client whose connection broke, or whose
 *   statement is still running after a client-side timeout, goes back to the pool.
 *
 * Here, a statement of a checked-out client that fails because the database is unavailable
 * (see isDatabaseUnavailable) releases the client at once with that error, so that pg-pool
 * discards it; the release the caller makes later (if it ever does) changes nothing. A
 * checked-out client that loses its connection between statements emits 'error', which
 * pg-pool only listens for on idle clients: without a listener of ours it would end the
 * process; with it, the client is marked broken and its next statement fails as above.
 *
 * Clients the pool lends to `pool.query()` are left as they are: pg-pool releases those
 * with the query's error itself.
 */
export class GuardedPool extends pg.Pool {
  constructor(config: pg.PoolConfig) {
    super(config);
    this.on('connect', (client) => guard(client as GuardedClient));
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): void;
  override connect(
    callback?: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): Promise<pg.PoolClient> | undefined {
    if (callback !== undefined) {
      super.connect(callback);
      return undefined;
    }
    return super.connect().then((client) => lend(client as GuardedClient));
  }
}

/** Once per client, when it connects: the listener and the statement watch described above. */
function guard(client: GuardedClient): void {
  client.on('error', () => {
    // The statement under way, or the next one, fails with this connection's error.
  });
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  // pg's query() has many overloads; only the promise form (what Drizzle uses) is watched.
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const outcome = query(...args);
    if (client[checkedOut] === true && outcome instanceof Promise) {
      outcome.catch((error: unknown) => {
        if (client[checkedOut] === true && isDatabaseUnavailable(error)) client.release(error as Error);
      });
    }
    return outcome;
  };
}

/** Each checkout: a release that may be called more than once, the first call counting. */
function lend(client: GuardedClient): pg.PoolClient {
  const release = client.release;
  client[checkedOut] = true;
  client.release = (error?: Error | boolean) => {
    if (client[checkedOut] !== true) return;
    client[checkedOut] = false;
    release(error);
  };
  return client;
}
