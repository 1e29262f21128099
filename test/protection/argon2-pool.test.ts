import { spawn } from 'node:child_process';
import { platform } from 'node:os';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { hashSecret } from '../../src/clients/secrets.js';
import { Argon2Pool } from '../../src/protection/argon2-pool.js';

t.test('the argon2 pool verifies on at most `size` low-priority threads', async (t) => {
  const pool = new Argon2Pool(2);
  t.teardown(() => pool.close());
  const hash = await hashSecret('the-right-secret');
  t.equal(pool.threads, 0, 'no thread before the first verification');

  t.equal(await pool.verify(hash, 'the-right-secret'), true, 'the right secret verifies');
  t.equal(await pool.verify(hash, 'a-wrong-secret'), false, 'a wrong one does not');
  t.equal(await pool.verify('not an argon2 hash', 'x'), false, 'a malformed stored hash does not verify, and throws nothing');

  const many = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.verify(hash, i % 2 === 0 ? 'the-right-secret' : 'wrong')));
  t.same(many, [true, false, true, false, true, false], 'six at once on two threads: each answer to its own question');
  t.equal(pool.threads, 2, 'never more threads than its size');
  if (platform() === 'linux') t.equal(pool.lowPriorityThreads, 2, 'each thread runs at low priority');
});

t.test('a closed pool answers what was under way with false', async (t) => {
  const pool = new Argon2Pool(1);
  const hash = await hashSecret('s');
  const underWay = pool.verify(hash, 's');
  await new Promise((resolve) => setTimeout(resolve, 5));
  await pool.close();
  t.equal(await underWay, false);
});

t.test('a verification under way keeps the process alive until it answers', async (t) => {
  // Nothing else holds this process open: idle threads must not, a busy one must.
  const script = [
    "import { hashSync } from '@node-rs/argon2';",
    "import { Argon2Pool } from './src/protection/argon2-pool.ts';",
    "console.log('verified', await new Argon2Pool(1).verify(hashSync('s'), 's'));",
  ].join('\n');
  const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('close', (exitCode) => resolve({ stdout: out, code: exitCode }));
  });
  t.equal(stdout.trim(), 'verified true');
  t.equal(code, 0, 'and then it exits');
});
