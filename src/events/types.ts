/**
 * Event types: every audit action `<object>.<verb>` is the event type
 * `dev.portier.<object>.<verb>` (reverse-DNS, as CloudEvents recommends). What a webhook or
 * a reader of /admin/events asks for is a list of patterns: a type, a prefix ending in `*`
 * (`dev.portier.client.*`), or `*` for every event. The trigger of migration 0017 applies
 * the same rule in SQL when it writes a webhook's deliveries.
 */

export const EVENT_TYPE_PREFIX = 'dev.portier.';

/** A pattern as accepted: `*`, or `dev.portier.` and then dotted lowercase words, optionally ending in `.*` or `*`. */
export const EVENT_TYPE_PATTERN = /^(\*|dev\.portier\.([a-z0-9_]+\.)*([a-z0-9_]+|\*|[a-z0-9_]+\*))$/;

export function eventType(action: string): string {
  return `${EVENT_TYPE_PREFIX}${action}`;
}

/** Whether `type` is one that `pattern` asks for. */
export function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

/**
 * The audit actions a pattern covers, as a SQL LIKE pattern on `action` (the part after
 * `dev.portier.`): an exact action, or a prefix followed by `%`. `_` and `%` are escaped.
 */
export function actionLikePattern(pattern: string): string {
  const escaped = (text: string) => text.replace(/[\\%_]/g, (character) => `\\${character}`);
  if (pattern === '*') return '%';
  const rest = pattern.slice(EVENT_TYPE_PREFIX.length);
  return rest.endsWith('*') ? `${escaped(rest.slice(0, -1))}%` : escaped(rest);
}
