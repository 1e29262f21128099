import type { IntlShape } from 'react-intl';

/** A day in milliseconds: expiry badges, the expiring box and the list's "within N days" filters count in days. */
export const DAY_MS = 24 * 3600 * 1000;

/** "3 minutes ago", "in 2 days": a time relative to now, in `locale`'s words. */
export function relativeTime(iso: string, now = Date.now(), locale = 'en'): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [
    ['year', 31_536_000],
    ['month', 2_592_000],
    ['day', 86_400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.round(seconds / size), unit);
  }
  return iso;
}

/**
 * A date and time as a person reads it: in `locale`'s order and words, in the browser's time
 * zone (or `timeZone`), with the zone's name where it matters (`withZone`: an expiry).
 */
export function localTime(iso: string, locale: string, options: { withZone?: boolean; timeZone?: string } = {}): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    ...(options.withZone && { timeZoneName: 'short' }),
    ...(options.timeZone !== undefined && { timeZone: options.timeZone }),
  }).format(date);
}

/** An exact date and time, in UTC (what a time shows on hover). */
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
export interface ProblemLike {
  status?: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
  /** A 409 about a scope still granted: the clients that hold it. */
  clients?: string[];
}

/** How fieldErrors words the form's message: in English by default; the console's are i18n/problems.ts's. */
export interface ProblemWords {
  message: (problem: ProblemLike | undefined, fallback: string) => string;
  stillGranted: (clients: string) => string;
}

const ENGLISH_PROBLEM: ProblemWords = {
  message: problemMessage,
  stillGranted: (clients) => `Still granted to: ${clients}.`,
};

/**
 * A problem's errors by the form field they name (see fieldOf), to show next to each
 * field; a problem without field errors (or none at all) goes to `form`.
 */
export function fieldErrors(problem: ProblemLike | undefined, fallback: string, words = ENGLISH_PROBLEM): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  for (const item of problem?.errors ?? []) {
    const field = fieldOf(item.path);
    errors[field] = [...(errors[field] ?? []), item.message];
  }
  if (Object.keys(errors).length === 0) {
    const message = words.message(problem, fallback);
    // The server's detail usually names the clients already: each is listed once.
    const unnamed = [...new Set(problem?.clients ?? [])].filter((clientId) => !namesClient(message, clientId));
    const used = unnamed.length > 0 ? ` ${words.stillGranted(unnamed.join(', '))}` : '';
    errors.form = [`${message}${used}`];
  }
  return errors;
}

/** Whether `text` names `clientId` as a whole word (client IDs are a-z0-9._-), not inside another ID. */
function namesClient(text: string, clientId: string): boolean {
  return text.split(/[^a-z0-9._-]+/).some((word) => word.replace(/\.+$/, '') === clientId);
}

/** What the claims editor holds: a JSON object, or the reason it is not one. Empty means none ({}). */
export function parseClaims(
  text: string,
): { claims: Record<string, unknown> } | { error: string; problem: 'json' | 'object'; reason?: string } {
  if (text.trim() === '') return { claims: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'cannot be read';
    return { error: `not valid JSON: ${reason}`, problem: 'json', reason };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: 'must be a JSON object, such as {"tenant": "acme"}', problem: 'object' };
  }
  return { claims: value as Record<string, unknown> };
}

/** Claims as the editor shows them: indented JSON, or '' for none. */
export function claimsText(claims: Record<string, unknown>): string {
  return Object.keys(claims).length === 0 ? '' : JSON.stringify(claims, null, 2);
}

/** A number field that may be left empty: null when empty, the whole number, or undefined when it is not one. */
export function optionalWholeNumber(text: string): number | null | undefined {
  if (text.trim() === '') return null;
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

/** One bar of the usage chart: tokens at the bottom, refusals stacked on them (SVG coordinates). */
export interface UsageBar {
  x: number;
  width: number;
  tokensY: number;
  tokensHeight: number;
  refusalsY: number;
  refusalsHeight: number;
}

/**
 * The bars of a usage chart `width` × `height` (SVG units), one per bucket, scaled to the
 * busiest bucket; a bucket with anything in it is at least one unit high, so it shows.
 */
export function usageBars(
  buckets: Array<{ tokens: number; refusals: number }>,
  width: number,
  height: number,
): { bars: UsageBar[]; max: number } {
  const max = Math.max(0, ...buckets.map((bucket) => bucket.tokens + bucket.refusals));
  const slot = buckets.length === 0 ? 0 : width / buckets.length;
  const gap = Math.min(2, slot / 4);
  const scale = (count: number) => (max === 0 || count === 0 ? 0 : Math.max(1, (count / max) * height));
  const bars = buckets.map((bucket, i) => {
    const tokensHeight = scale(bucket.tokens);
    const refusalsHeight = scale(bucket.refusals);
    return {
      x: i * slot + gap / 2,
      width: Math.max(0, slot - gap),
      tokensY: height - tokensHeight,
      tokensHeight,
      refusalsY: height - tokensHeight - refusalsHeight,
      refusalsHeight,
    };
  });
  return { bars, max };
}

/**
 * The lifetime and custom claims of a client's or a service's form (fields `access_token_ttl`
 * and `claims`), as the API takes them, or the errors found before anything is sent:
 * claims that are not a JSON object, a lifetime that is not a whole number. (The server
 * checks the rest: the range, reserved names, size.) The errors are in `intl`'s language.
 */
export function readTokenShape(
  value: (name: string) => string,
  intl: Pick<IntlShape, 'formatMessage'>,
): {
  body: { access_token_ttl: number | null; claims: Record<string, unknown> };
  errors: Record<string, string[]>;
} {
  const errors: Record<string, string[]> = {};
  const ttl = optionalWholeNumber(value('access_token_ttl'));
  if (ttl === undefined) errors.access_token_ttl = [intl.formatMessage({ id: 'tokens.ttlInvalid' })];
  const claims = parseClaims(value('claims'));
  if ('error' in claims) {
    errors.claims = [
      claims.problem === 'json'
        ? intl.formatMessage({ id: 'tokens.claimsNotJson' }, { reason: claims.reason ?? '' })
        : intl.formatMessage({ id: 'tokens.claimsNotObject' }, { example: '{"tenant": "acme"}' }),
    ];
  }
  return { body: { access_token_ttl: ttl ?? null, claims: 'claims' in claims ? claims.claims : {} }, errors };
}

/** What a service offers operators, as the admin API lists it. */
export interface ServiceOffer {
  id: string;
  self_service: boolean;
  self_service_roles: string[];
  self_service_max_access_token_ttl: number | null;
}

/**
 * What an operator may choose for a client granted `granted` (service ids): the roles every
 * one of those services offers, and the longest lifetime all of them allow (null: none). A
 * service missing from `services` (operators see only the self-service ones) offers nothing,
 * and so does a client granted nothing. The server decides (src/clients/operator-limits.ts);
 * this is what the form shows as open beforehand.
 */
export function operatorChoices(services: readonly ServiceOffer[], granted: readonly string[]): { roles: string[]; maxTtl: number | null } {
  const offers = granted.map((id) => services.find((service) => service.id === id && service.self_service));
  if (offers.length === 0 || offers.some((offer) => offer === undefined)) return { roles: [], maxTtl: null };
  const found = offers as ServiceOffer[];
  const [first, ...rest] = found;
  const roles = (first?.self_service_roles ?? []).filter((role) => rest.every((offer) => offer.self_service_roles.includes(role)));
  const maxima = found.map((offer) => offer.self_service_max_access_token_ttl);
  const maxTtl = maxima.some((max) => max === null) ? null : Math.min(...(maxima as number[]));
  return { roles, maxTtl };
}

/** A client's token quota in words, in the person's language: the server's default, none, or its limits and what happens beyond them. */
export function quotaText(
  quota: { per_hour: number | null; per_day: number | null; mode: 'enforce' | 'log' } | null,
  intl: Pick<IntlShape, 'formatMessage'>,
): string {
  if (quota === null) return intl.formatMessage({ id: 'quota.default' });
  const limits = [
    quota.per_hour === null ? null : intl.formatMessage({ id: 'quota.perHour' }, { count: quota.per_hour }),
    quota.per_day === null ? null : intl.formatMessage({ id: 'quota.perDay' }, { count: quota.per_day }),
  ];
  const text = limits.filter((limit) => limit !== null).join(', ');
  if (text === '') return intl.formatMessage({ id: 'common.none' });
  return intl.formatMessage({ id: quota.mode === 'enforce' ? 'quota.enforced' : 'quota.logged' }, { limits: text });
}
