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
export type AuditEvent = Json<paths['/admin/audit-events']['get']['responses'][200]>['items'][number];
export type AuditQuery = NonNullable<paths['/admin/audit-events']['get']['parameters']['query']>;
export type SigningKey = Json<paths['/admin/keys']['get']['responses'][200]>['items'][number];
export type BulkResult = Json<paths['/admin/clients/bulk']['post']['responses'][200]>['results'][number];
export type Problem = Json<paths['/admin/clients']['post']['responses'][400]>;

export type Api = ReturnType<typeof createApi>;

/**
 * The admin API client for one session: every request carries the session's token; a 401
 * (expired or revoked token) ends the session.
 */
export function createApi(token: string, onUnauthorized: () => void) {
  const api = createClient<paths>({ baseUrl: '' });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${token}`);
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

export interface Session {
  clientId: string;
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  canWrite: boolean;
}

export type SignInResult = { ok: true; session: Session } | { ok: false; retryAfterSeconds?: number };

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
