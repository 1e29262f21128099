// The attack table's "slow connections from 100 addresses, reconnecting": a slowloris run
// from many machines. Each connection sends the start of a request head and then one more
// byte every few seconds, never finishing it; whenever the server closes one, it opens
// again at once. See bench/README.md.
import { connect, type Socket } from 'node:net';
import { assertLoopback, onCleanup } from './processes.js';

/** 127.0.1.1 … 127.0.1.100: the attacker's addresses (the legitimate load comes from 127.0.0.1). */
export const SLOW_ADDRESSES = 100;
/**
 * Connections each address keeps trying to hold: under MAX_CONNECTIONS_PER_ADDRESS (256),
 * and 15,000 in all, which fits this process's open-file limit of 20,000 beside the rest.
 */
export const SLOW_PER_ADDRESS = 150;
/**
 * MAX_CONNECTIONS of the server in this scenario: half of what the attacker wants to hold
 * (the 20,000 against 10,000), so that the table is always full.
 */
export const SLOW_SCENARIO_MAX_CONNECTIONS = (SLOW_ADDRESSES * SLOW_PER_ADDRESS) / 2;
/**
 * Connection attempts under way at once (a connect not yet answered). Many machines open
 * their connections over time, not in one instant: 15,000 SYNs at once from one process
 * would overflow the kernel's queues on this shared machine and measure the kernel's
 * retransmissions rather than Portier. A dropped connection still reconnects at once
 * whenever fewer attempts are under way.
 */
const CONNECTS_IN_FLIGHT = 256;
/** How often each connection sends one more byte of its head. */
const TRICKLE_EVERY_MS = 3_000;
/** The start of a head that never ends. */
const HEAD_START = 'POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Padding: ';

export interface SlowConnectionsReport {
  /** Connections opened (attempts), closed by the server, failed to connect (by code), open at the end. */
  outcomes: Map<string, number>;
  seconds: number;
  /** CPU of this process (where the connections are driven) over the run, in cores. */
  cores: number;
}

/**
 * Opens SLOW_ADDRESSES × SLOW_PER_ADDRESS slow connections to `baseUrl` and keeps them
 * coming back, until `maxSeconds` or `stop()`.
 */
export function startSlowConnections(baseUrl: string, maxSeconds: number): () => Promise<SlowConnectionsReport> {
  assertLoopback(baseUrl);
  const url = new URL(baseUrl);
  const outcomes = new Map<string, number>();
  const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  const sockets = new Set<Socket>();
  let stopping = false;
  const started = performance.now();
  const cpu0 = process.cpuUsage();

  /** Addresses whose connection is to be opened (again), in turn. */
  const queue: string[] = [];
  let connecting = 0;
  const next = () => {
    while (!stopping && connecting < CONNECTS_IN_FLIGHT && queue.length > 0) open(queue.shift() as string);
  };
  const open = (localAddress: string) => {
    count('opened');
    connecting += 1;
    const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
    sockets.add(socket);
    let connected = false;
    let settled = false;
    const attempted = () => {
      if (settled) return;
      settled = true;
      connecting -= 1;
      next();
    };
    socket.on('connect', () => {
      connected = true;
      attempted();
      socket.write(HEAD_START);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!stopping && !connected) count(error.code ?? 'error');
    });
    socket.on('close', () => {
      sockets.delete(socket);
      attempted();
      if (stopping) return;
      if (connected) count('closed by server');
      // Again, as soon as an attempt may start: an attacker keeps its connections.
      queue.push(localAddress);
      next();
    });
  };
  for (let i = 0; i < SLOW_PER_ADDRESS; i++) for (let a = 1; a <= SLOW_ADDRESSES; a++) queue.push(`127.0.1.${a}`);
  next();

  // One byte per connection every TRICKLE_EVERY_MS, spread over the interval.
  const slices = 10;
  let slice = 0;
  const trickle = setInterval(() => {
    let i = 0;
    for (const socket of sockets) {
      if (i++ % slices === slice && !socket.connecting && socket.writable) socket.write('x');
    }
    slice = (slice + 1) % slices;
  }, TRICKLE_EVERY_MS / slices);
  const limit = setTimeout(() => void stop(), maxSeconds * 1000);

  let report: Promise<SlowConnectionsReport> | undefined;
  const stop = () =>
    (report ??= (async () => {
      stopping = true;
      clearInterval(trickle);
      clearTimeout(limit);
      outcomes.set('open at the end', [...sockets].filter((socket) => !socket.connecting && !socket.destroyed).length);
      for (const socket of sockets) socket.destroy();
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      return { outcomes, seconds: elapsedMs / 1000, cores: (cpu.user + cpu.system) / 1e3 / elapsedMs };
    })());
  onCleanup('stop the slow connections', async () => void (await stop()));
  return stop;
}
