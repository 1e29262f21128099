import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

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
  /** The same body compressed at build time (console/precompress.ts), where there is one. */
  encoded: Partial<Record<ContentEncoding, Buffer>>;
}

type ContentEncoding = 'br' | 'gzip';
const ENCODED_SUFFIXES: Record<string, ContentEncoding> = { '.br': 'br', '.gz': 'gzip' };

/**
 * The encoding to send, of those the file has: brotli before gzip (smaller), each only if
 * Accept-Encoding takes it (named with q > 0, or `*`), else the file as it is.
 */
export function chooseEncoding(acceptEncoding: string | undefined, available: readonly ContentEncoding[]): ContentEncoding | undefined {
  if (acceptEncoding === undefined || available.length === 0) return undefined;
  const weights = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...parameters] = part.trim().toLowerCase().split(';');
    const q = parameters.map((parameter) => parameter.trim()).find((parameter) => parameter.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name !== '') weights.set(name, Number.isNaN(weight) ? 0 : weight);
  }
  const accepted = (encoding: ContentEncoding) => (weights.get(encoding) ?? weights.get('*') ?? 0) > 0;
  return (['br', 'gzip'] as const).find((encoding) => available.includes(encoding) && accepted(encoding));
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
  const encodings: Array<{ path: string; encoding: ContentEncoding; body: Buffer }> = [];
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      const served = relative(directory, path).split('\\').join('/');
      const encoding = ENCODED_SUFFIXES[extname(name)];
      if (statSync(path).isDirectory()) walk(path);
      else if (encoding !== undefined) encodings.push({ path: served.slice(0, -extname(name).length), encoding, body: readFileSync(path) });
      else {
        const type = CONTENT_TYPES[extname(name)];
        if (type !== undefined) files.set(served, { body: readFileSync(path), type, encoded: {} });
      }
    }
  };
  walk(directory);
  for (const { path, encoding, body } of encodings) {
    const file = files.get(path);
    if (file !== undefined) file.encoded[encoding] = body;
  }
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

  const send = (request: FastifyRequest, reply: FastifyReply, file: ConsoleFile, immutable: boolean) => {
    const available = Object.keys(file.encoded) as ContentEncoding[];
    const encoding = chooseEncoding(request.headers['accept-encoding'], available);
    if (available.length > 0) reply.header('vary', 'accept-encoding');
    if (encoding !== undefined) reply.header('content-encoding', encoding);
    return reply
      .header('content-type', file.type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(encoding === undefined ? file.body : file.encoded[encoding]);
  };

  const serve = async (path: string, request: FastifyRequest, reply: FastifyReply) => {
    const build = built();
    if (build === undefined) {
      return reply.status(404).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build`.\n');
    }
    const file = build.get(path);
    // Vite names everything under assets/ by its content hash: cached for good.
    if (path.startsWith('assets/')) {
      if (file === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('Not found\n');
      return send(request, reply, file, true);
    }
    if (file !== undefined && path !== '') return send(request, reply, file, false);
    const index = build.get('index.html') as ConsoleFile;
    return send(request, reply, index, false);
  };

  app.get('/console', { schema: { hide: true } }, async (request, reply) => serve('', request, reply));
  app.get('/console/*', { schema: { hide: true } }, async (request, reply) =>
    serve((request.params as { '*': string })['*'], request, reply),
  );
  // Browsers ask for /favicon.ico on every page of the origin (the API's documentation, the
  // sign-in pages): the console's icon, an SVG, which they take whatever the name says.
  app.get('/favicon.ico', { schema: { hide: true } }, async (request, reply) => {
    const icon = built()?.get('favicon.svg');
    if (icon === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('Not found\n');
    return send(request, reply, icon, false);
  });
}
