import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { totalmem } from 'node:os';
import type { Counter } from 'prom-client';
import { systemClock } from '../lib/clock.js';
import type { RepeatedLog } from '../lib/repeated-log.js';
import { addressKey } from './failure-budget.js';

/** Below the process's file-descriptor limit, leaving room for the database pool, logs and files. */
const FD_SHARE = 0.8;
/**
 * Memory each open connection may be counted at when MAX_CONNECTIONS is left to follow
 * the open-file limit: far more than Node needs for a connection (a few KiB), so that a
 * table full of slow connections cannot take the memory a process is allowed.
 */
const MEMORY_PER_CONNECTION = 64 * 1024;
/** Above this share of the cap, slow connections are closed after SLOW_HEAD_DEADLINE_MS. */
const PRESSURE_SHARE = 0.8;
/** Under pressure, how long a connection may take to deliver its first request head. */
export const SLOW_HEAD_DEADLINE_MS = 1000;
/**
 * How often, under pressure, slow connections are looked for, and how many are closed at
 * most each time: closing thousands at once (a table filled in one burst ages in one
 * burst) would hold up the event loop, and every request with it, for a noticeable time.
 */
const SWEEP_EVERY_MS = 100;
const MAX_CLOSED_PER_SWEEP = 500;
/**
 * A new connection is not closed to make room before it has had this many turns of the
 * event loop (or SLOW_HEAD_DEADLINE_MS) to deliver its request head: the head a client sends
 * right after connecting is read in the turn after the connection is accepted, or the one
 * after that, and a flood of new connections must not close it before.
 */
const GRACE_TURNS = 2;

/** Why a connection was closed by the caps: the label of portier_connections_closed_total. */
export type ClosedReason = 'per_address_cap' | 'slow_head' | 'made_room' | 'refused';

export interface ConnectionLimits {
  /** Open connections in all; undefined: follow the open-file limit (see connectionCap). */
  maxConnections: number | undefined;
  maxConnectionsPerAddress: number;
}

/** One open connection, as the caps see it. */
interface Connection {
  socket: Socket;
  /** Whom the per-address cap counts it for (an IPv6 /64, as the failure budgets). */
  address: string;
  /** A trusted proxy: neither capped per address nor held to its address's share. */
  exempt: boolean;
  acceptedAt: number;
  /** The event-loop turn it was accepted in (see GRACE_TURNS). */
  turn: number;
  /** Requests whose head has arrived and whose response has not ended. */
  inFlight: number;
  closed: boolean;
  /** The list it is in (waiting or idle), and its neighbours there; see ConnectionList. */
  list: ConnectionList | undefined;
  previous: Connection | undefined;
  next: Connection | undefined;
}

/**
 * Connections in the order they joined, oldest first, linked through the connections
 * themselves. A Map would do the same, but every keep-alive request moves its connection
 * out of the idle list and back in: a Map that lives long has its table in the old
 * generation, and V8 allocates each rebuilt table there too, so thousands of requests a
 * second would fill the old generation with dead tables. Linking allocates nothing.
 */
class ConnectionList {
  private head: Connection | undefined;
  private tail: Connection | undefined;

  get oldest(): Connection | undefined {
    return this.head;
  }

  /** Appends `connection`, taking it out of the list it was in. */
  push(connection: Connection): void {
    connection.list?.remove(connection);
    connection.list = this;
    connection.previous = this.tail;
    connection.next = undefined;
    if (this.tail === undefined) this.head = connection;
    else this.tail.next = connection;
    this.tail = connection;
  }

  remove(connection: Connection): void {
    if (connection.list !== this) return;
    if (connection.previous === undefined) this.head = connection.next;
    else connection.previous.next = connection.next;
    if (connection.next === undefined) this.tail = connection.previous;
    else connection.next.previous = connection.previous;
    connection.list = connection.previous = connection.next = undefined;
  }
}

/** Where a socket's Connection is kept: a property rather than a WeakMap, whose entries the collector must trace apart. */
const tracked = Symbol('portier.connection');
type TrackedSocket = Socket & { [tracked]?: Connection };

/** A new connection's record, kept on its socket; in no list yet. */
function track(socket: Socket, fields: Pick<Connection, 'address' | 'exempt' | 'acceptedAt' | 'turn'>): Connection {
  const connection: Connection = { socket, ...fields, inFlight: 0, closed: false, list: undefined, previous: undefined, next: undefined };
  (socket as TrackedSocket)[tracked] = connection;
  return connection;
}

/**
 * Caps open connections, in all and per source address, and keeps serving when slow
 * connections from many addresses fill the table, as a load balancer in front would.
 *
 * - Per address: a connection beyond MAX_CONNECTIONS_PER_ADDRESS is closed as soon as it is
 *   accepted, before any of it is read, so thousands of slow connections from one address
 *   only hurt that address. Trusted proxies (`exempt`) are not capped per address.
 * - Under pressure (more than 80 % of MAX_CONNECTIONS open), a connection that has not
 *   delivered a complete request head within SLOW_HEAD_DEADLINE_MS (1 s) of being accepted
 *   is closed: slow connections then hold a place for a second, not for REQUEST_TIMEOUT.
 * - At MAX_CONNECTIONS, a new connection takes the place of another rather than being
 *   refused: first of the oldest connection that never delivered a request head (once it
 *   has had its turns to do so, see GRACE_TURNS), then of the connection idle longest
 *   between keep-alive requests; a connection with a request under way is never closed.
 *   It may not take the place of one from an address holding fewer connections than its
 *   own, so slow connections from many addresses do not close each other in a loop, while
 *   a client from an address of its own always gets in. Only when no place can be made is
 *   the new connection closed.
 *
 * So a client that sends its request once connected (as every HTTP client does) gets an
 * answer however many slow connections come and go, and a keep-alive connection that
 * completed requests outlives any number of connections that never did.
 */
export function capConnections(
  server: Server,
  limits: ConnectionLimits,
  exempt: (address: string) => boolean,
  log: RepeatedLog,
  closed: Counter<'reason'>,
): ConnectionCaps {
  return new ConnectionCaps(server, limits, exempt, log, closed);
}

/** The caps of one server (see capConnections): its connections, by list and by address. */
export class ConnectionCaps {
  private readonly cap: number;
  private readonly pressure: number;
  private readonly perAddressCap: number;
  /** Connections that have not delivered a request head yet, oldest first. */
  private readonly waiting = new ConnectionList();
  /** Keep-alive connections between requests, idle longest first. */
  private readonly idle = new ConnectionList();
  private readonly perAddress = new Map<string, number>();
  private open = 0;
  private turn = 0;
  private turnPending = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    server: Server,
    limits: ConnectionLimits,
    private readonly exempt: (address: string) => boolean,
    private readonly log: RepeatedLog,
    private readonly closed: Counter<'reason'>,
  ) {
    this.cap = connectionCap(limits.maxConnections, log);
    this.pressure = Math.floor(this.cap * PRESSURE_SHARE);
    this.perAddressCap = limits.maxConnectionsPerAddress;
    server.on('connection', (socket: Socket) => this.accept(socket));
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.started(request, response));
    server.once('close', () => this.stopSweeping());
  }

  private accept(socket: Socket): void {
    const remote = socket.remoteAddress;
    if (remote === undefined) {
      socket.destroy();
      return;
    }
    const address = addressKey(remote);
    const isExempt = this.exempt(remote);
    const holding = this.perAddress.get(address) ?? 0;
    if (!isExempt && this.perAddressCap > 0 && holding >= this.perAddressCap) {
      socket.destroy();
      this.closed.inc({ reason: 'per_address_cap' });
      return;
    }
    const now = systemClock();
    if (this.open >= this.cap && !this.makeRoom(holding, isExempt, now)) {
      socket.destroy();
      this.closed.inc({ reason: 'refused' });
      this.log.warn('connections refused', { open: this.open, max_connections: this.cap }, 'connection refused: MAX_CONNECTIONS reached');
      return;
    }
    const connection = track(socket, { address, exempt: isExempt, acceptedAt: now, turn: this.turn });
    this.waiting.push(connection);
    this.perAddress.set(address, holding + 1);
    this.open += 1;
    socket.once('close', () => this.forget(connection));
    this.countTurns();
    if (this.open > this.pressure && this.sweeper === undefined) this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS).unref();
  }

  /** Turns are counted only while connections arrive: the grace is about them. */
  private countTurns(): void {
    if (this.turnPending) return;
    this.turnPending = true;
    setImmediate(() => {
      this.turn += 1;
      this.turnPending = false;
    });
  }

  /** A request head has arrived: the connection is doing work, and is no longer slow. */
  private started(request: IncomingMessage, response: ServerResponse): void {
    const connection = (request.socket as TrackedSocket)[tracked];
    if (connection === undefined || connection.closed) return;
    connection.list?.remove(connection);
    connection.inFlight += 1;
    response.once('close', () => {
      connection.inFlight -= 1;
      // At the end of the idle list: the one idle longest is the first to give its place.
      if (connection.inFlight === 0 && !connection.closed) this.idle.push(connection);
    });
  }

  private close(connection: Connection, reason: ClosedReason): void {
    this.forget(connection);
    connection.socket.destroy();
    this.closed.inc({ reason });
    if (reason !== 'made_room') {
      this.log.warn(`connections ${reason}`, { reason, open: this.open, max_connections: this.cap }, `connection closed: ${reason}`);
    }
  }

  private forget(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.list?.remove(connection);
    this.open -= 1;
    const left = (this.perAddress.get(connection.address) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(connection.address);
    else this.perAddress.set(connection.address, left);
  }

  /** A place for a new connection whose address holds `holding` already, made by closing another; false if none can be had. */
  private makeRoom(holding: number, isExempt: boolean, now: number): boolean {
    const oldest = this.waiting.oldest;
    // While any connection has yet to deliver a request head, no keep-alive connection gives
    // its place: the new one waits (is refused) until the oldest of those has had its turns.
    const victim = oldest ?? this.idle.oldest;
    if (victim === undefined) return false;
    if (victim === oldest && this.turn - oldest.turn < GRACE_TURNS && now - oldest.acceptedAt < SLOW_HEAD_DEADLINE_MS) return false;
    if (!isExempt && !victim.exempt && holding >= (this.perAddress.get(victim.address) ?? 0)) return false;
    this.close(victim, 'made_room');
    return true;
  }

  private sweep(): void {
    const deadline = systemClock() - SLOW_HEAD_DEADLINE_MS;
    for (let closedNow = 0; closedNow < MAX_CLOSED_PER_SWEEP; closedNow++) {
      const connection = this.waiting.oldest;
      if (connection === undefined || connection.acceptedAt > deadline) break;
      this.close(connection, 'slow_head');
    }
    if (this.open <= this.pressure) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/**
 * MAX_CONNECTIONS: as configured, or by default 80 % of the open-file limit (the rest is
 * for the database pool, logs and files), and then at most one connection per 64 KiB of
 * the memory the process may use. A configured value above 80 % of the open-file limit is
 * lowered to it, with a warning.
 */
export function connectionCap(configured: number | undefined, log?: RepeatedLog): number {
  const fdLimit = openFileLimit();
  const byFiles = fdLimit === undefined ? undefined : Math.floor(fdLimit * FD_SHARE);
  if (configured === undefined) {
    const byMemory = Math.floor(availableMemory() / MEMORY_PER_CONNECTION);
    return Math.max(1, Math.min(byFiles ?? DEFAULT_WITHOUT_FILE_LIMIT, byMemory));
  }
  if (byFiles !== undefined && byFiles < configured) {
    log?.warn(
      'max connections',
      { max_connections: byFiles, open_file_limit: fdLimit },
      'MAX_CONNECTIONS lowered below the open-file limit',
    );
    return Math.max(1, byFiles);
  }
  return configured;
}

/** Where the open-file limit cannot be read (not Linux): the cap Portier had before it followed that limit. */
const DEFAULT_WITHOUT_FILE_LIMIT = 10_000;

/** The memory this process may use: its cgroup's limit when there is one, else the machine's. */
function availableMemory(): number {
  const total = totalmem();
  // 0, or a huge number, where there is no limit.
  const constrained = process.constrainedMemory();
  return constrained > 0 && constrained < total ? constrained : total;
}

/** The soft limit on open files, from /proc (Linux); undefined where that cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((row) => row.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || !/^\d+$/.test(soft) ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
