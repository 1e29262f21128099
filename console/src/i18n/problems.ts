import type { IntlShape } from 'react-intl';
import { fieldErrors, type ProblemLike } from '../format.js';
import type { MessageId } from './messages/index.js';

/**
 * The one place where the admin API's common refusals (RFC 9457 problems) and a failed
 * network are explained in the person's language. The server's `detail` stays English (it
 * is what logs, the CLI and support read); it is kept after the explanation, marked as
 * Portier's own words.
 */
export type ProblemKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'notFound'
  | 'conflict'
  | 'tooLarge'
  | 'tooMany'
  | 'unavailable'
  | 'server'
  | 'unreachable';

const EXPLANATION: Record<ProblemKind, MessageId> = {
  invalid: 'problem.invalid',
  unauthorized: 'problem.unauthorized',
  forbidden: 'problem.forbidden',
  notFound: 'problem.notFound',
  conflict: 'problem.conflict',
  tooLarge: 'problem.tooLarge',
  tooMany: 'problem.tooMany',
  unavailable: 'problem.unavailable',
  server: 'problem.server',
  unreachable: 'problem.unreachable',
};

/**
 * What went wrong, by the problem's status: a thrown error (fetch's TypeError) means the
 * request never got an answer; null for an answer that is no problem the console knows.
 */
export function problemKind(problem: unknown): ProblemKind | null {
  if (problem instanceof Error) return 'unreachable';
  if (typeof problem !== 'object' || problem === null || !('status' in problem) || typeof problem.status !== 'number') return null;
  const status = problem.status;
  if (status === 400 || status === 422) return 'invalid';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'notFound';
  if (status === 409) return 'conflict';
  if (status === 413) return 'tooLarge';
  if (status === 429) return 'tooMany';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'server';
  return null;
}

function detailOf(problem: unknown): string | null {
  if (typeof problem === 'object' && problem !== null && 'detail' in problem && typeof problem.detail === 'string') {
    return problem.detail.trim() === '' ? null : problem.detail;
  }
  return null;
}

/**
 * A refusal in the person's language: what failed (`failed`, the screen's own sentence,
 * such as "The client could not be saved."), why (the kind's explanation), and the
 * server's English detail, when it gave one.
 */
export function explainProblem(intl: IntlShape, problem: unknown, failed: string): string {
  const kind = problemKind(problem);
  const detail = detailOf(problem);
  const parts = [failed];
  if (kind !== null) parts.push(intl.formatMessage({ id: EXPLANATION[kind] }));
  if (detail !== null) parts.push(intl.formatMessage({ id: 'problem.detail' }, { detail }));
  return parts.join(' ');
}

/**
 * A form's refusal by field (format's fieldErrors): the fields' own messages (the server's),
 * and for the form as a whole the explained problem, naming the clients that still hold
 * what was to be deleted.
 */
export function explainFieldErrors(intl: IntlShape, problem: ProblemLike | undefined, failed: string): Record<string, string[]> {
  return fieldErrors(problem, failed, {
    message: (answer, fallback) => explainProblem(intl, answer, fallback),
    stillGranted: (clients) => intl.formatMessage({ id: 'problem.stillGranted' }, { clients }),
  });
}
