import type { IntlShape } from 'react-intl';
import type { Client, ClientPatch, CreateClientBody } from '../api';
import { formText, optionalWholeNumber, readTokenShape, words } from '../format';
import type { FieldErrors, FormReading } from '../ui/useFormSubmission';
import { readCertificateAuth } from './CertificateAuthFields';
import { type IdentityRow, identitiesFromRows } from './federated-identities';
import { type Grant, withPickedGrant } from './grants';

/**
 * What the new-client and edit forms send, read from their fields and from what they hold
 * outside them (the grants list, the identities editor). The browser checks what it can
 * before anything is sent, in this order: the expiry alone; then the fields it can check
 * (lifetime, claims, quota, certificate keys) together; then the identities' claims.
 */

type Intl = Pick<IntlShape, 'formatMessage'>;
type FederatedIdentity = NonNullable<ClientPatch['federated_identities']>[number];

/** The expiry field (local time) as the API takes it: null for none. */
function readExpiry(text: string, intl: Intl): FormReading<string | null> {
  if (text === '') return { ok: true, body: null };
  const expiry = new Date(text);
  if (Number.isNaN(expiry.getTime())) return { ok: false, errors: { expires_at: [intl.formatMessage({ id: 'form.invalidTime' })] } };
  return { ok: true, body: expiry.toISOString() };
}

/** The identities the editor's rows make, or which line of claims is not `name=value`. */
function readIdentities(rows: IdentityRow[], intl: Intl): FormReading<FederatedIdentity[]> {
  const made = identitiesFromRows(rows);
  if (!made.ok) return { ok: false, errors: { federated_identities: [intl.formatMessage({ id: 'identities.notNameValue' }, made.error)] } };
  return { ok: true, body: made.identities };
}

/** What the new-client form holds outside its fields. */
export interface NewClientState {
  /** An operator's, whose new clients are always theirs; null: the form names the owner. */
  owner: string | null;
  grants: Grant[];
  /** The platform identities it signs in as; null: it gets a secret (or a certificate). */
  identities: IdentityRow[] | null;
}

/** The new-client form's body: only what was filled in, so that the server's defaults apply to the rest. */
export function readNewClient(form: FormData, state: NewClientState, intl: Intl): FormReading<CreateClientBody> {
  const value = (name: string) => formText(form, name);
  const expiry = readExpiry(value('expires_at'), intl);
  if (!expiry.ok) return expiry;
  const certificate = readCertificateAuth(form);
  if (certificate.errors !== undefined) return { ok: false, errors: certificate.errors };
  const identities = state.identities === null ? undefined : readIdentities(state.identities, intl);
  if (identities?.ok === false) return identities;
  const ranges = words(value('ip_ranges'));
  return {
    ok: true,
    body: {
      name: value('name'),
      description: value('description'),
      grants: withPickedGrant(state.grants, form),
      ...(state.owner === null && { owner: value('owner') }),
      ...(value('client_id') !== '' && { client_id: value('client_id') }),
      ...(ranges.length > 0 && { ip_ranges: ranges }),
      ...(expiry.body !== null && { expires_at: expiry.body }),
      ...certificate.body,
      ...(identities?.ok && { auth_method: 'federated' as const, federated_identities: identities.body }),
    },
  };
}

/** What the edit form holds outside its fields, and what the person may change. */
export interface ClientChangesState {
  grants: Grant[];
  /** The platform identities to set (the client's, or those it switches to); null: they do not change. */
  identities: IdentityRow[] | null;
  /** A client with a secret or keys switching to platform identities. */
  switching: boolean;
  /** The owner (admins). */
  canSetOwner: boolean;
  /** Roles, claims, lifetime and quota as they like (admins); else the roles and lifetime open to operators. */
  canShapeTokens: boolean;
  rolesOpen: boolean;
  ttlOpen: boolean;
}

/** The quota fields (QuotaFields): the client's own quota, or null for the server's default (no fields then). */
function readQuota(form: FormData, intl: Intl): { body: ClientPatch; errors: FieldErrors } {
  if (!form.has('quota_mode')) return { body: { token_quota: null }, errors: {} };
  const value = (name: string) => formText(form, name);
  const perHour = optionalWholeNumber(value('quota_per_hour'));
  const perDay = optionalWholeNumber(value('quota_per_day'));
  const mode = value('quota_mode') === 'log' ? 'log' : 'enforce';
  return {
    body: { token_quota: { per_hour: perHour ?? null, per_day: perDay ?? null, mode } },
    errors: perHour === undefined || perDay === undefined ? { token_quota: [intl.formatMessage({ id: 'edit.quotaInvalid' })] } : {},
  };
}

/** What shapes the client's tokens, as far as the person may change it; the lifetime only when an operator changed it. */
function readTokenChanges(form: FormData, client: Client, state: ClientChangesState, intl: Intl) {
  const value = (name: string) => formText(form, name);
  const body: ClientPatch = {};
  const errors: FieldErrors = {};
  if (state.canShapeTokens) {
    const shape = readTokenShape(value, intl);
    const quota = readQuota(form, intl);
    Object.assign(body, shape.body, quota.body);
    Object.assign(errors, shape.errors, quota.errors);
  } else if (state.ttlOpen) {
    const ttl = optionalWholeNumber(value('access_token_ttl'));
    if (ttl === undefined) errors.access_token_ttl = [intl.formatMessage({ id: 'tokens.ttlWhole' })];
    else if (ttl !== client.access_token_ttl) body.access_token_ttl = ttl;
  }
  if (state.rolesOpen) body.roles = words(value('roles'));
  return { body, errors };
}

/** The edit form's changes to `client`: every field the person may change (the client ID never changes). */
export function readClientChanges(form: FormData, client: Client, state: ClientChangesState, intl: Intl): FormReading<ClientPatch> {
  const value = (name: string) => formText(form, name);
  const expiry = readExpiry(value('expires_at'), intl);
  if (!expiry.ok) return expiry;
  const tokens = readTokenChanges(form, client, state, intl);
  const certificate = readCertificateAuth(form);
  const errors = { ...tokens.errors, ...certificate.errors };
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const identities = state.identities === null ? undefined : readIdentities(state.identities, intl);
  if (identities?.ok === false) return identities;
  return {
    ok: true,
    body: {
      name: value('name'),
      description: value('description'),
      first_name: value('first_name') || null,
      last_name: value('last_name') || null,
      grants: withPickedGrant(state.grants, form),
      ip_ranges: words(value('ip_ranges')),
      expires_at: expiry.body,
      ...tokens.body,
      ...certificate.body,
      ...(identities?.ok && { federated_identities: identities.body }),
      ...(identities?.ok && state.switching && { auth_method: 'federated' as const }),
      ...(state.canSetOwner && value('owner') !== client.owner && { owner: value('owner') }),
    },
  };
}
