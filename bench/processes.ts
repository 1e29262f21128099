// Child processes, temporary resources and their cleanup: whatever happens (normal end,
// an error, Ctrl-C, the global deadline), every server the benchmark started is stopped and
// every temporary directory or database it made is removed.
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The environment for a Node child: ours, without the benchmark's own loader (tsx). */
export function nodeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

/** Refuses any address but the loopback: the benchmark sends traffic nowhere else. */
export function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new Error(`refusing non-loopback address ${hostname} (${url.replace(/\/\/[^@/]*@/, '//…@')})`);
  }
}

type Cleanup = { name: string; run: () => Promise<void> | void };
const cleanups: Cleanup[] = [];

/** Registers work for the end of the run; the last registered runs first. */
export function onCleanup(name: string, run: Cleanup['run']): void {
  cleanups.push({ name, run });
}

let cleaning: Promise<void> | undefined;

/** Runs every cleanup once (later calls wait for the first). Never throws. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const cleanup = cleanups.pop();
      if (cleanup === undefined) break;
      try {
        await cleanup.run();
      } catch (error) {
        process.stderr.write(`bench: cleanup "${cleanup.name}" failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  })();
  return cleaning;
}

export function removeDirOnCleanup(dir: string): void {
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
}

/** A free TCP port on the loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A child process started by the benchmark, with the tail of what it printed. */
export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  /** Last lines of stdout and stderr together. */
  tail(): string[];
  /** Lines printed so far. */
  lineCount(): number;
  exited: Promise<number | null>;
  hasExited(): boolean;
  stop(): Promise<void>;
}

const TAIL_LINES = 40;

export function startChild(name: string, command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }): Child {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  const lines: string[] = [];
  let count = 0;
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      count += 1;
      lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (lines.length > TAIL_LINES) lines.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve(code ?? (signal === null ? null : 128));
    });
    child.on('error', () => {
      done = true;
      resolve(null);
    });
  });
  const stop = async () => {
    if (done) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => {
      if (!done) child.kill('SIGKILL');
    }, 5_000);
    await exited;
    clearTimeout(killer);
  };
  const handle: Child = {
    name,
    process: child,
    pid,
    tail: () => [...lines],
    lineCount: () => count,
    exited,
    hasExited: () => done,
    stop,
  };
  onCleanup(`stop ${name} (pid ${pid})`, stop);
  return handle;
}

/** Runs a command to completion; resolves with its exit code and the tail of its output. */
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
    if (child.hasExited()) {
      throw new Error(`${child.name} exited during start-up:\n  ${child.tail().join('\n  ')}`);
    }
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${child.name} did not answer ${url} within ${timeoutMs / 1000} s:\n  ${child.tail().join('\n  ')}`);
    }
    await sleep(100);
  }
}
