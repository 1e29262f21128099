import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './generated/admin-api';

/** The shapes the console uses, all taken from Portier's OpenAPI document. */
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
export type Client = Json<paths['/admin/clients/{client_id}']['get']['responses'][200]>;
/** Every status a client can have, as the API's schema lists them. */
export type ClientStatus = Client['status'];
export type ClientPage = Json<paths['/admin/clients']['get']['responses'][200]>;
export type ClientQuery = NonNullable<paths['/admin/clients']['get']['parameters']['query']>;
export type CreateClientBody = NonNullable<paths['/admin/clients']['post']['requestBody']>['content']['application/json'];
export type ClientPatch = NonNullable<paths['/admin/clients/{client_id}']['patch']['requestBody']>['content']['application/json'];
export type CreatedClient = Json<paths['/admin/clients']['post']['responses'][201]>;
/** A client's token quota, as the API shows it (null: the server's default). */
export type TokenQuota = NonNullable<Client['token_quota']>;
export type Usage = Json<paths['/admin/clients/{client_id}/usage']['get']['responses'][200]>;
export type Service = Json<paths['/admin/services/{id}']['get']['responses'][200]>;
export type NewServiceBody = NonNullable<paths['/admin/services']['post']['requestBody']>['content']['application/json'];
export type ServicePatch = NonNullable<paths['/admin/services/{id}']['patch']['requestBody']>['content']['application/json'];
export type TrustedIssuer = Json<paths['/admin/trusted-issuers/{id}']['get']['responses'][200]>;
export type NewTrustedIssuerBody = NonNullable<paths['/admin/trusted-issuers']['post']['requestBody']>['content']['application/json'];
export type TrustedIssuerPatch = NonNullable<paths['/admin/trusted-issuers/{id}']['patch']['requestBody']>['content']['application/json'];
export type AuditEvent = Json<paths['/admin/audit-events']['get']['responses'][200]>['items'][number];
export type AuditQuery = NonNullable<paths['/admin/audit-events']['get']['parameters']['query']>;
export type SigningKey = Json<paths['/admin/keys']['get']['responses'][200]>['items'][number];
/** A person's console session, as the sessions screen lists it. */
export type ConsoleSession = Json<paths['/admin/sessions']['get']['responses'][200]>['items'][number];
export type BulkResult = Json<paths['/admin/clients/bulk']['post']['responses'][200]>['results'][number];
/** One of a client's credentials (a secret or a public key), never with its secret. */
export type Credential = Json<paths['/admin/clients/{client_id}/credentials']['get']['responses'][200]>['credentials'][number];
export type NewCredentialBody = paths['/admin/clients/{client_id}/credentials']['post']['requestBody']['content']['application/json'];
export type Webhook = Json<paths['/admin/webhooks/{id}']['get']['responses'][200]>;
export type NewWebhookBody = paths['/admin/webhooks']['post']['requestBody']['content']['application/json'];
export type WebhookPatch = paths['/admin/webhooks/{id}']['patch']['requestBody']['content']['application/json'];
export type Delivery = Json<paths['/admin/webhooks/{id}/deliveries']['get']['responses'][200]>['items'][number];
export type Problem = Json<paths['/admin/clients']['post']['responses'][400]>;

export type Session = ClientSession | PersonSession;
export type Role = PersonSession['role'];

export type Api = ReturnType<typeof createApi>;

/**
 * The admin API client for one session: every request carries the token of an admin
 * client's session, or, for a person, the session cookie the browser holds; a 401
 * (expired or revoked token, ended session) ends the session.
 *
 * Portier refuses a change made with a session cookie unless it carries Portier's own
 * Origin. The console's pages are served with `Referrer-Policy: no-referrer`, under which
 * the Fetch standard has a POST, PATCH or DELETE carry `Origin: null`; so these requests
 * ask for the same-origin policy, under which every browser sends the real Origin (and a
 * Referer to Portier alone).
 */
export function createApi(token: string | null, onUnauthorized: () => void) {
  const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin', referrerPolicy: 'same-origin' });
  const auth: Middleware = {
    onRequest({ request }) {
      if (token !== null) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) onUnauthorized();
      return response;
    },
  };
  api.use(auth);
  return api;
}

/** Signed in with an admin client's credentials (break-glass): a token in memory only. */
export interface ClientSession {
  kind: 'client';
  clientId: string;
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  canWrite: boolean;
}

/** A person signed in through the organisation's identity provider: the browser holds an HttpOnly cookie. */
export interface PersonSession {
  kind: 'person';
  name: string;
  /** Their clients are those with this owner. */
  owner: string;
  role: 'admin' | 'auditor' | 'operator';
}

/** What a session may do in the console: the same rules the admin API applies (it refuses the rest anyway). */
export interface Abilities {
  /** Create and change clients. */
  clients: boolean;
  /** Create and change services. */
  services: boolean;
  /** See the signing keys. */
  keys: boolean;
  /** See people's console sessions (admins and auditors), and end them (admins). */
  sessions: boolean;
  endSessions: boolean;
  /** Rotate them. */
  rotateKeys: boolean;
  /** Choose (and change) a client's owner; an operator's clients are always theirs. */
  owner: boolean;
  /** An operator: the clients list is theirs. */
  ownClientsOnly: boolean;
  /** Give a client platform identities (federated): admins only, as the API has it. */
  platformIdentities: boolean;
  /**
   * Set what shapes a client's tokens (roles, claims, lifetime, quota) as they like: admins.
   * Operators choose roles and a lifetime within what the client's services offer them, and
   * see the rest read-only.
   */
  tokenPolicy: boolean;
  /** See and manage the webhooks that receive Portier's events: admins. */
  webhooks: boolean;
}

export function abilitiesOf(session: Session): Abilities {
  const role: Role = session.kind === 'person' ? session.role : session.canWrite ? 'admin' : 'auditor';
  return {
    clients: role !== 'auditor',
    services: role === 'admin',
    keys: role !== 'operator',
    sessions: role !== 'operator',
    endSessions: role === 'admin',
    rotateKeys: role === 'admin',
    owner: role === 'admin',
    ownClientsOnly: role === 'operator',
    platformIdentities: role === 'admin',
    tokenPolicy: role === 'admin',
    webhooks: role === 'admin',
  };
}

/** How one signs in to this Portier, and who is signed in (GET /console/auth/session). */
export interface SignInState {
  sign_in: { sso: { name: string | null; available: boolean } | null; client: boolean };
  person: { name: string; owner: string; role: Role } | null;
}

export async function signInState(): Promise<SignInState> {
  const response = await fetch('/console/auth/session', { credentials: 'same-origin', cache: 'no-store' });
  if (!response.ok) throw new Error(`GET /console/auth/session answered ${response.status}`);
  return (await response.json()) as SignInState;
}

/**
 * Ends a person's session here; the answer says where sign-out continues at the identity
 * provider, if it has somewhere (RP-initiated logout).
 */
export async function signOutPerson(): Promise<string | null> {
  const response = await fetch('/console/auth/logout', { method: 'POST', credentials: 'same-origin', referrerPolicy: 'same-origin' });
  if (!response.ok) return null;
  return ((await response.json()) as { end_session_url: string | null }).end_session_url;
}

export type SignInResult = { ok: true; session: ClientSession } | { ok: false; retryAfterSeconds?: number };

/** RFC 6749 §2.3.1: the client ID and secret are form-encoded before they are joined for HTTP Basic. */
function basicCredentials(clientId: string, clientSecret: string): string {
  const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)}`;
}

/**
 * Exchanges an admin's client ID and secret for an admin token (client_credentials).
 * Asks for admin:read and admin:write; when the token endpoint answers invalid_scope (it
 * grants a scope list whole or not at all), asks again for admin:read alone. The secret
 * is used for these requests only and kept nowhere.
 */
export async function signIn(clientId: string, clientSecret: string): Promise<SignInResult> {
  let issuer = window.location.origin;
  try {
    const discovery = await fetch('/.well-known/oauth-authorization-server');
    if (discovery.ok) issuer = ((await discovery.json()) as { issuer?: string }).issuer ?? issuer;
  } catch {
    // The issuer defaults to this origin.
  }
  const request = (scope: string) =>
    fetch('/oauth/token', {
      method: 'POST',
      headers: { authorization: basicCredentials(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: `${issuer.replace(/\/$/, '')}/admin` }),
      credentials: 'omit',
      cache: 'no-store',
    });
  try {
    let response = await request('admin:read admin:write');
    if (response.status === 400) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      if (body.error === 'invalid_scope') response = await request('admin:read');
    }
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get('retry-after'));
      return { ok: false, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 60 };
    }
    if (!response.ok) return { ok: false };
    const body = (await response.json()) as { access_token: string; expires_in: number; scope?: string };
    const scopes = (body.scope ?? '').split(' ');
    return {
      ok: true,
      session: {
        kind: 'client',
        clientId,
        token: body.access_token,
        expiresAt: Date.now() + body.expires_in * 1000,
        canWrite: scopes.includes('admin:write'),
      },
    };
  } catch {
    return { ok: false };
  }
}
