import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { addressKey } from './failure-budget.js';

/** Below the process's file-descriptor limit, leaving room for the database pool, logs and files. */
const FD_SHARE = 0.8;

/**
 * Caps open connections, in all and per source address. Without a cap, thousands of slow
 * connections from one address (each trickling its headers) use up file descriptors and
 * memory until nobody else can connect; with one, that address only hurts itself.
 *
 * A connection over the cap is closed as soon as it is accepted, before any of it is read.
 * Addresses for which `exempt` says yes (trusted proxies: every caller arrives through
 * them) are not capped per address; the overall cap still applies.
 */
export function capConnections(
  server: Server,
  limits: { maxConnections: number; maxConnectionsPerAddress: number },
  exempt: (address: string) => boolean,
  log: Logger,
): void {
  const fdLimit = openFileLimit();
  const overall = fdLimit === undefined ? limits.maxConnections : Math.min(limits.maxConnections, Math.floor(fdLimit * FD_SHARE));
  if (overall < limits.maxConnections) {
    log.warn({ max_connections: overall, open_file_limit: fdLimit }, 'MAX_CONNECTIONS lowered below the open-file limit');
  }
  server.maxConnections = overall;

  const perAddress = limits.maxConnectionsPerAddress;
  if (perAddress === 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || exempt(address)) return;
    const key = addressKey(address);
    const count = (open.get(key) ?? 0) + 1;
    if (count > perAddress) {
      socket.destroy();
      return;
    }
    open.set(key, count);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    });
  });
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
