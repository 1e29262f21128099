// Child processes, temporary resources and their cleanup: whatever happens (normal end,
// an error, Ctrl-C, the global deadline), every process the benchmark started is stopped and
// every temporary directory or database it made is removed.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Refuses any address but the loopback: the benchmark sends traffic nowhere else. */
export function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new Error(`refusing non-loopback address ${hostname} (${url.replace(/\/\/[^@/]*@/, '//…@')})`);
  }
}

/** The environment for a Node child: ours (plus `extra`), without the benchmark's own loader (tsx). */
export function nodeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

const cleanups: { name: string; run: () => Promise<void> | void }[] = [];
let cleaning: Promise<void> | undefined;

/** Registers work for the end of the run; the last registered runs first. */
export function onCleanup(name: string, run: () => Promise<void> | void): void {
  cleanups.push({ name, run });
}

export function removeDirOnCleanup(dir: string): void {
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
}

/** Runs every cleanup once (later calls wait for the first). Never throws. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) {
      try {
        await cleanup.run();
      } catch (error) {
        process.stderr.write(`bench: cleanup "${cleanup.name}" failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  })();
  return cleaning;
}

/** A free TCP port on the loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** A child process started by the benchmark, with the last lines it printed. */
export interface Child {
  name: string;
  pid: number;
  /** The last 40 lines of stdout and stderr together. */
  tail(): string[];
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL 5 s later; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts a child process; it is stopped at cleanup if still running. */
export function startChild(name: string, command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }): Child {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    }
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? null : 128)));
    child.on('error', () => resolve(null));
  }).finally(() => {
    done = true;
  });
  const stop = async () => {
    if (done) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => done || child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  };
  onCleanup(`stop ${name} (pid ${child.pid})`, stop);
  return { name, pid: child.pid, tail: () => [...lines], exited, hasExited: () => done, stop };
}

/** Runs a command to completion (stopped after `timeoutMs`); resolves with its exit code and the tail of its output. */
export async function runCommand(
  name: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  const child = startChild(name, command, args, { cwd: options.cwd, env: options.env ?? process.env });
  const timer = setTimeout(() => void child.stop(), options.timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, output: child.tail().join('\n') };
}

/** Polls `url` (with `init`, GET by default) until it answers 2xx, the child dies, or `timeoutMs` passes. */
export async function waitForHttp(child: Child, url: string, timeoutMs: number, init: RequestInit = {}): Promise<void> {
  assertLoopback(url);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.hasExited()) throw new Error(`${child.name} exited during start-up:\n  ${child.tail().join('\n  ')}`);
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${child.name} did not answer ${url} within ${timeoutMs / 1000} s:\n  ${child.tail().join('\n  ')}`);
    await sleep(100);
  }
}
