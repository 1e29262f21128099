// A thread of the argon2id pool (see argon2-pool.ts): verifies one secret at a time, at
// the lowest CPU priority the operating system gives a thread.
//
// JavaScript, not TypeScript: a worker thread starts from a file, and this one must run
// as it is both from src/ (tests, development, where tsx is not loaded in worker threads
// on Node 20) and from dist/ (tsc copies it there, allowJs). Checked by tsc all the same.
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { verifySync } from '@node-rs/argon2';

/**
 * Lowers this thread's priority only (on Linux a thread's id names it for setpriority),
 * so that argon2id runs on CPU time the event loop and token signing leave over.
 * Elsewhere it does nothing, and the pool still bounds the work.
 * @returns {boolean} whether the priority was lowered
 */
function lowerOwnPriority() {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(threadId)) return false;
    setPriority(threadId, constants.priority.PRIORITY_LOW);
    return true;
  } catch {
    return false;
  }
}

const port = parentPort;
if (port !== null) {
  port.postMessage({ lowered: lowerOwnPriority() });
  port.on('message', (/** @type {{ id: number; hash: string; presented: string }} */ { id, hash, presented }) => {
    let ok = false;
    try {
      ok = verifySync(hash, presented);
    } catch {
      // A malformed stored hash simply does not verify.
    }
    port.postMessage({ id, ok });
  });
}
