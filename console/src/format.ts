/** "3 minutes ago", "in 2 days": a time relative to now. */
export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
    ['year', 31_536_000],
    ['month', 2_592_000],
    ['day', 86_400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  const format = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.round(seconds / size), unit);
  }
  return iso;
}

/** An exact date and time, in UTC. */
export function exactTime(iso: string): string {
  return new Date(iso)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

/** Which form field a problem's errors[].path (e.g. /grants/0/scopes/1) names: its first segment, or `form`. */
export function fieldOf(path: string): string {
  const top = path.split('/')[1] ?? '';
  return top === '' ? 'form' : top;
}

/** An ISO 8601 time as a datetime-local input's value (local time), or '' for none. */
export function toLocalInput(iso: string | null): string {
  if (iso === null || Number.isNaN(new Date(iso).getTime())) return '';
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** A datetime-local input's value (local time) as ISO 8601, or '' for none or an invalid one: toLocalInput's inverse. */
export function fromLocalInput(local: string): string {
  return local === '' || Number.isNaN(new Date(local).getTime()) ? '' : new Date(local).toISOString();
}

/** A form field's text, trimmed ('' when the form has no such field). */
export function formText(form: FormData, name: string): string {
  return String(form.get(name) ?? '').trim();
}

/** The words of a text field (scopes, roles, IP ranges), separated by spaces, commas or new lines. */
export function words(text: string): string[] {
  return text.split(/[\s,]+/).filter((word) => word !== '');
}

/** A console URL with its query string, or without any `?` when there is none. */
export function listUrl(path: string, params: URLSearchParams): string {
  const query = params.toString();
  return `${path}${query ? `?${query}` : ''}`;
}

/** The same list at another page: the query string with `cursor` set, or without it (null) for the first page. */
export function pageUrl(path: string, search: string, cursor: string | null): string {
  const params = new URLSearchParams(search);
  if (cursor === null) params.delete('cursor');
  else params.set('cursor', cursor);
  return listUrl(path, params);
}

/** The message of a problem+json answer, or of anything else that went wrong. */
export function problemMessage(error: unknown, fallback = 'The request failed.'): string {
  if (typeof error === 'object' && error !== null && 'detail' in error && typeof error.detail === 'string') return error.detail;
  return fallback;
}

/** What fieldErrors reads of a problem+json answer (the admin API's Problem). */
interface ProblemLike {
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
  /** A 409 about a scope still granted: the clients that hold it. */
  clients?: string[];
}

/**
 * A problem's errors by the form field they name (see fieldOf), to show next to each
 * field; a problem without field errors (or none at all) goes to `form`.
 */
export function fieldErrors(problem: ProblemLike | undefined, fallback: string): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  for (const item of problem?.errors ?? []) {
    const field = fieldOf(item.path);
    errors[field] = [...(errors[field] ?? []), item.message];
  }
  if (Object.keys(errors).length === 0) {
    const used = problem?.clients?.length ? ` Still granted to: ${problem.clients.join(', ')}.` : '';
    errors.form = [`${problemMessage(problem, fallback)}${used}`];
  }
  return errors;
}

/**
 * What the `managed` mark of a client or service means: created by a configuration apply,
 * which deletes it again (with prune) once its document no longer lists it.
 */
export function managedText(managed: boolean): string {
  return managed
    ? 'Managed by configuration: created by a configuration apply, which deletes it again once the document no longer lists it.'
    : 'No: made through the API, the console or the command line.';
}
