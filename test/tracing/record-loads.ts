import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

/**
 * Preloaded (`--import`) into a Portier process by the tracing-off test: appends to
 * PORTIER_TEST_LOADS the URL or path of every module the process resolves, ES modules (a
 * resolve hook, on the loader's thread) and CommonJS ones (Module._resolveFilename) alike.
 */

const file = process.env.PORTIER_TEST_LOADS ?? '';
const hooks = `
import { appendFileSync } from 'node:fs';
let file = '';
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(file, resolved.url + '\\n');
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file } });

// Module._resolveFilename is internal to node:module and missing from its types.
const cjs = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolveFilename = cjs._resolveFilename;
cjs._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  const resolved = resolveFilename.call(this, request, ...rest);
  appendFileSync(file, `${resolved}\n`);
  return resolved;
};
