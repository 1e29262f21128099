// '.js': this pure module is also compiled with the tests (node16 resolution).
import { words } from '../format.js';

/**
 * A grant's `exchange` as the console shows and edits it: whom the client may act for at
 * that service (`subjects`), and the other clients whose tokens it may present as the
 * actor_token (`actors`). Both are edited as text: "vendor-a, issuer:corp, *".
 */
export type Exchange = { subjects: string[]; actors?: string[] };

export type Grant = { service: string; scopes: string[]; exchange?: Exchange };

/** The names a field lists (format's words), each once. */
function distinctWords(text: string): string[] {
  return [...new Set(words(text))];
}

/**
 * The exchange the picker's two fields say; none without subjects (there is no exchange to
 * list actors for then: the actors field is shown empty with it, never dropped unseen).
 */
export function exchangeFromText(subjectsText: string, actorsText: string): Exchange | undefined {
  const subjects = distinctWords(subjectsText);
  const actors = distinctWords(actorsText);
  if (subjects.length === 0) return undefined;
  return actors.length === 0 ? { subjects } : { subjects, actors };
}

/** The picker's subjects field for a grant's exchange. */
export function exchangeText(exchange: Exchange | undefined): string {
  return exchange?.subjects.join(', ') ?? '';
}

/** The picker's actors field for a grant's exchange. */
export function actorsText(exchange: Exchange | undefined): string {
  return exchange?.actors?.join(', ') ?? '';
}

/**
 * The grants a form sends: its list, with the service still chosen in the picker (and its
 * ticked scopes and exchange) added as "Add grant" would, so that a service picked but not
 * yet added is never dropped silently. The picker's fields carry the names read here.
 */
export function withPickedGrant(grants: Grant[], form: FormData): Grant[] {
  const service = String(form.get('grant_service') ?? '');
  if (service === '') return grants;
  const scopes = form.getAll('grant_scope').map(String);
  const exchange = exchangeFromText(String(form.get('grant_exchange') ?? ''), String(form.get('grant_exchange_actors') ?? ''));
  return [...grants.filter((grant) => grant.service !== service), { service, scopes, ...(exchange !== undefined && { exchange }) }];
}
