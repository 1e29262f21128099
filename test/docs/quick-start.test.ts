import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Code, RootContent } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { toString as textOf } from 'mdast-util-to-string';
import t from 'tap';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { build, freePort } from '../helpers.js';

// The README's quick start, followed literally: Portier started with the environment of
// its start line (on a free port instead of 8080, with this test's database), then the
// shell block run as it is written, with curl and node, against the listening server,
// down to the verified token. The only change made to the block is the port.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README_PORT = 'localhost:8080';

/** The `sh` blocks of the README's "Quick start" section: the start line, then the commands. */
function quickStartBlocks(): { start: string; commands: string } {
  const tree = fromMarkdown(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'));
  const at = tree.children.findIndex((node) => node.type === 'heading' && node.depth === 2 && textOf(node).startsWith('Quick start'));
  if (at < 0) throw new Error('README.md has no "## Quick start" section');
  const end = tree.children.findIndex((node, index) => index > at && node.type === 'heading' && node.depth <= 2);
  const blocks = tree.children
    .slice(at + 1, end < 0 ? undefined : end)
    .filter((node: RootContent): node is Code => node.type === 'code' && node.lang === 'sh');
  const [start, commands, ...rest] = blocks.map((block) => block.value);
  if (start === undefined || commands === undefined || rest.length > 0) {
    throw new Error(`the quick start must have two sh blocks (start, commands), found ${blocks.length}`);
  }
  return { start, commands };
}

/** The NAME=value assignments before `npm start` in the start line. */
function startEnvironment(start: string): Record<string, string> {
  const match = /^((?:[A-Z0-9_]+=\S+\s+)+)npm start$/.exec(start.trim());
  if (match === null) throw new Error(`the start line must be NAME=value … npm start, got: ${start}`);
  const pairs = (match[1] ?? '').trim().split(/\s+/);
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/** The environment of the shell: this one's, without Portier's variables or tap's loader. */
function shellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (CONFIG_VARIABLES.includes(name) || name === 'NODE_OPTIONS' || name.startsWith('TAP') || name.startsWith('_TAPJS')) continue;
    env[name] = value;
  }
  return env;
}

function runShell(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env: shellEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // Bounded: a command that hangs (a server that never answers) ends the run.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test("the README's quick start ends with a verified token", async (t) => {
  const { start, commands } = quickStartBlocks();
  const env = startEnvironment(start);
  t.ok('BOOTSTRAP_ADMIN_CLIENT_ID' in env && 'BOOTSTRAP_ADMIN_CLIENT_SECRET' in env, 'it starts Portier with a bootstrap admin');
  t.ok(commands.includes(README_PORT), `the commands call ${README_PORT}`);

  // Started as `npm start` would with that environment, but on a free port.
  const port = await freePort();
  const config = loadConfig({ ...env, PORT: String(port), LOG_LEVEL: 'silent' });
  t.equal(config.issuer, `http://localhost:${port}`, 'the default ISSUER, for this port');
  const server = await build(t, {
    config: { port: config.port, host: config.host, issuer: config.issuer, bootstrapAdmin: config.bootstrapAdmin },
  });
  await server.app.listen({ port: config.port, host: config.host });

  const script = commands.replaceAll(README_PORT, `localhost:${port}`);
  t.notOk(script.includes('8080'), 'only the port was changed');
  const { code, stdout, stderr } = await runShell(script);
  t.equal(code, 0, `the commands succeed${stderr === '' ? '' : `; stderr: ${stderr}`}`);
  t.match(stdout, /^verified: shop orders:read$/m, 'and print the verified token');
  t.match(stdout, /^https:\/\/orders\.example$/m, 'the service was created on the way');
});
