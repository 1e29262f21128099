import type { Test } from 'tap';

/**
 * The assertions many test files make about an answer's shape, defined once: an RFC 9457
 * problem of the admin API, a 400 naming its bad fields, an RFC 6749 §5.2 error of the
 * OAuth endpoints, and what a promise rejected with.
 */

/** What `inject()` answers, as far as these assertions read it. */
export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  json(): unknown;
}

/** An RFC 9457 problem document, as the admin API writes them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
  [member: string]: unknown;
}

/** Prefixes an assertion message with the case it is about, when there is one. */
function prefix(what: string): string {
  return what === '' ? '' : `${what}: `;
}

/**
 * An RFC 9457 problem with `status` ('any4xx': any client error): problem+json, and the
 * type, title, status and detail members. Returns the body.
 */
export function expectProblem(t: Test, response: Answer, status: number | 'any4xx', what = ''): Problem {
  const label = prefix(what);
  if (status === 'any4xx') t.ok(response.statusCode >= 400 && response.statusCode < 500, `${label}4xx (got ${response.statusCode})`);
  else t.equal(response.statusCode, status, `${label}status ${status}`);
  t.match(response.headers['content-type'], /^application\/problem\+json/, `${label}application/problem+json`);
  const body = response.json() as Problem;
  t.equal(body.status, response.statusCode, `${label}status member`);
  t.type(body.type, 'string', `${label}type`);
  t.type(body.title, 'string', `${label}title`);
  t.type(body.detail, 'string', `${label}detail`);
  return body;
}

/**
 * A 400 problem whose errors[] names each of these paths, each with a message, and no
 * other field but their ancestors (a failed `anyOf` of a nullable field also reports the
 * field itself). Returns the body.
 */
export function expectInvalid(t: Test, response: Answer, paths: string[], what = 'request'): Problem {
  const label = prefix(what);
  const body = expectProblem(t, response, 400, what);
  t.ok(Array.isArray(body.errors), `${label}errors[]`);
  const found = new Set((body.errors ?? []).map((error) => error.path));
  for (const path of paths) t.ok(found.has(path), `${label}errors name ${path} (got ${[...found].join(', ')})`);
  const unexpected = [...found].filter((path) => !paths.some((expected) => expected === path || expected.startsWith(`${path}/`)));
  t.same(unexpected, [], `${label}no other field is blamed`);
  for (const error of body.errors ?? []) t.ok(error.message.length > 0, `${label}${error.path} has a message`);
  return body;
}

/** An RFC 6749 §5.2 error: the status, a JSON body of exactly {error, error_description}, no-store. */
export function expectOAuthError(t: Test, response: Answer, status: number, error: string, what = ''): void {
  const label = prefix(what);
  t.equal(response.statusCode, status, `${label}status ${status}`);
  t.match(response.headers['content-type'], /^application\/json/, `${label}JSON body`);
  t.equal(response.headers['cache-control'], 'no-store', `${label}Cache-Control: no-store`);
  const body = response.json() as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ['error', 'error_description'], `${label}body is {error, error_description}`);
  t.equal(body.error, error, `${label}error is ${error}`);
  t.type(body.error_description, 'string', `${label}error_description is a string`);
}

/** What `promise` rejected with; a promise that resolves instead is an error of the test itself. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
