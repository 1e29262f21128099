import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The web console (console/, built by `npm run build` into dist/console): a single-page
 * app served at /console, on the admin API's origin. Every URL under /console that is not
 * a built file answers index.html (the app routes with the history API). The files are
 * read once, on the first request that finds them built.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface ConsoleFile {
  body: Buffer;
  type: string;
}

/**
 * Where the built console is: dist/console beside dist/src when running compiled, or the
 * repository's dist/console when running the sources (tests, tsx).
 */
export function consoleDirectory(): string {
  const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
  return basename(root) === 'dist' ? join(root, 'console') : join(root, 'dist', 'console');
}

function readBuild(directory: string): Map<string, ConsoleFile> | undefined {
  if (!existsSync(join(directory, 'index.html'))) return undefined;
  const files = new Map<string, ConsoleFile>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const type = CONTENT_TYPES[extname(name)];
        if (type !== undefined) files.set(relative(directory, path).split('\\').join('/'), { body: readFileSync(path), type });
      }
    }
  };
  walk(directory);
  return files;
}

export async function consoleRoutes(app: FastifyInstance, options: { directory?: string } = {}): Promise<void> {
  const directory = options.directory ?? consoleDirectory();
  let files: Map<string, ConsoleFile> | undefined;
  const built = () => {
    files ??= readBuild(directory);
    return files;
  };

  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  const send = (reply: FastifyReply, file: ConsoleFile, immutable: boolean) =>
    reply
      .header('content-type', file.type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(file.body);

  const serve = async (path: string, reply: FastifyReply) => {
    const build = built();
    if (build === undefined) {
      return reply.status(404).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build`.\n');
    }
    const file = build.get(path);
    // Vite names everything under assets/ by its content hash: cached for good.
    if (path.startsWith('assets/')) {
      if (file === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('Not found\n');
      return send(reply, file, true);
    }
    if (file !== undefined && path !== '') return send(reply, file, false);
    const index = build.get('index.html') as ConsoleFile;
    return send(reply, index, false);
  };

  app.get('/console', { schema: { hide: true } }, async (_request, reply) => serve('', reply));
  app.get('/console/*', { schema: { hide: true } }, async (request, reply) => serve((request.params as { '*': string })['*'], reply));
}
