import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { basicAuth, createTestDatabase, freePort } from '../helpers.js';

// The container as Kubernetes runs it (deploy/kubernetes/): the built server (dist/, what
// the image runs) as a non-root user (1000, the image's `node`) on a root file system
// mounted read-only, with DATABASE_URL and no DATA_DIR. It must start, answer its probes
// and a token request, and stop on SIGTERM: proof that it writes no file anywhere.
// Needs PostgreSQL, root (for a private mount namespace, `unshare -m`) and a fresh build.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

/** The newest modification time of any file under `dir`. */
function newest(dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => statSync(join(dir, name)))
    .filter((stat) => stat.isFile())
    .reduce((latest, stat) => Math.max(latest, stat.mtimeMs), 0);
}

function whyNot(): string | false {
  if (!process.env.DATABASE_URL) return 'needs DATABASE_URL (PostgreSQL): without it Portier keeps its data in DATA_DIR';
  if (process.getuid?.() !== 0) return 'needs root, for a private mount namespace';
  try {
    execFileSync('unshare', ['-m', 'sh', '-c', 'mount --make-rprivate / && mount -o remount,bind,ro /'], { stdio: 'ignore' });
  } catch {
    return 'cannot remount / read-only in a mount namespace here';
  }
  if (!existsSync(MAIN) || statSync(MAIN).mtimeMs < newest(join(ROOT, 'src'))) return 'dist/ is missing or older than src/: npm run build';
  return false;
}

t.test('a non-root process on a read-only root file system starts, serves and stops', { skip: whyNot() }, async (t) => {
  const { databaseUrl } = await createTestDatabase(t);
  const [port, managementPort] = [await freePort(), await freePort()];
  const origin = `http://127.0.0.1:${port}`;
  const secret = `adm_${randomBytes(24).toString('base64url')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    MANAGEMENT_PORT: String(managementPort),
    MANAGEMENT_HOST: '127.0.0.1',
    ISSUER: origin,
    BOOTSTRAP_ADMIN_CLIENT_ID: 'ops-admin',
    BOOTSTRAP_ADMIN_CLIENT_SECRET: secret,
    LOG_LEVEL: 'info',
  };
  // A private mount namespace in which / is read-only, then the server as uid/gid 1000.
  // (tap puts a loader of its own into NODE_OPTIONS of every child, which writes a file
  // when the process exits: the shell drops it, so only Portier's own writes would fail.)
  const child = spawn(
    'unshare',
    [
      '-m',
      'sh',
      '-c',
      'mount --make-rprivate / && mount -o remount,bind,ro / && exec env -u NODE_OPTIONS setpriv --reuid=1000 --regid=1000 --clear-groups "$0" "$1"',
      process.execPath,
      MAIN,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  while (!stdout.includes('"portier is ready"') && child.exitCode === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.match(stdout, /"portier is ready"/, `started (stderr: ${stderr})`);

  const ready = await fetch(`http://127.0.0.1:${managementPort}/readyz`);
  t.equal(ready.status, 200, 'ready, on the management port');
  const token = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('ops-admin', secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${origin}/admin`, scope: 'admin:read' }).toString(),
  });
  t.equal(token.status, 200, 'a token');
  const { access_token: accessToken } = (await token.json()) as { access_token: string };
  const config = await fetch(`${origin}/admin/config`, { headers: { authorization: `Bearer ${accessToken}` } });
  t.equal(config.status, 200, 'and the admin API');
  await config.arrayBuffer();

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: exit 0');
  t.equal(stderr, '', 'nothing on stderr');
  t.notMatch(stdout, /EROFS|read-only file system|EACCES/i, 'no failed write in the log');
});
