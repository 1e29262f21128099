import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { type Config, loadConfig } from '../../src/config.js';
import type { TestLike } from '../helpers.js';

/**
 * A real OpenID Connect provider for the tests of people's sign-in: node-oidc-provider,
 * in this process, on loopback (127.0.0.2 by default: another site than Portier on
 * 127.0.0.1, as a real provider is), with its own login page, Portier registered as a
 * confidential client (client_secret_basic), and accounts with an email and groups.
 * Consent is taken as given (Portier is a first-party client), so a sign-in is: the
 * login page, then back to Portier.
 *
 * `tamperIdToken` rewrites the ID token of the token endpoint's next answers: a provider
 * that misbehaves, for the tests of what Portier refuses.
 */
export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** By username; a test may change an account (its groups, say) between sign-ins. */
  accounts: Map<string, IdpAccount>;
  tamperIdToken: ((idToken: string) => Promise<string>) | undefined;
  /** Signs an ID token as this provider would (its key, its issuer), with `claims` changed. */
  resign(idToken: string, claims: Record<string, unknown>, key?: 'provider' | 'stranger'): Promise<string>;
  /** Stops the provider (its port refuses connections, open ones are cut), as a provider that is down. */
  stop(): Promise<void>;
  /** Starts it again on the same address. */
  restart(): Promise<void>;
}

export interface IdpAccount {
  sub: string;
  password: string;
  name?: string;
  email?: string;
  emailVerified?: boolean;
  groups?: string[];
}

export const IDP_CLIENT_ID = 'portier';
export const IDP_CLIENT_SECRET = 'portier-at-the-idp-0123456789';

/** The accounts every test provider starts with; the password is always "password". */
export function defaultAccounts(): Map<string, IdpAccount> {
  const account = (sub: string, name: string, email: string | undefined, groups: string[]): IdpAccount => ({
    sub,
    password: 'password',
    name,
    ...(email !== undefined && { email, emailVerified: true }),
    groups,
  });
  return new Map([
    ['alice', account('alice-0001', 'Alice Operator', 'alice@example.com', ['developers'])],
    ['bob', account('bob-0002', 'Bob Operator', 'bob@example.com', ['developers'])],
    ['ada', account('ada-0003', 'Ada Admin', 'ada@example.com', ['portier-admin', 'developers'])],
    ['otto', account('otto-0004', 'Otto Auditor', 'otto@example.com', ['portier-auditor'])],
    ['nomail', account('nomail-0005', 'No Mail', undefined, ['developers'])],
  ]);
}

/**
 * Portier's configuration for people to sign in through `idp` (named "Test IdP"), for a
 * Portier at `origin`; `env`: other variables, or these changed.
 */
export function ssoConfig(idp: TestIdp, origin: string, env: Record<string, string> = {}): Partial<Config> {
  const loaded = loadConfig({
    ISSUER: origin,
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: idp.clientId,
    OIDC_CLIENT_SECRET: idp.clientSecret,
    OIDC_NAME: 'Test IdP',
    ...env,
  });
  return { issuer: loaded.issuer, oidc: loaded.oidc, console: loaded.console };
}

export async function startIdp(
  t: TestLike,
  options: {
    /** Portier's callback URL(s): `<ISSUER>/console/auth/callback`. */
    redirectUris: string[];
    host?: string;
    /** Serve https with this certificate instead of http. */
    tls?: { key: string; cert: string };
  },
): Promise<TestIdp> {
  const host = options.host ?? '127.0.0.2';
  let handler: (request: IncomingMessage, response: import('node:http').ServerResponse) => void = (_request, response) => {
    response.writeHead(503).end();
  };
  const server: Server = options.tls
    ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, (request, response) => handler(request, response))
    : createServer((request, response) => handler(request, response));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  );
  const { port } = server.address() as AddressInfo;
  const issuer = `${options.tls ? 'https' : 'http'}://${host}:${port}`;

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'idp-key-1', alg: 'ES256', use: 'sig' };
  const accounts = defaultAccounts();
  const bySub = (sub: string) => [...accounts.values()].find((account) => account.sub === sub);
  const postLogoutRedirectUris = options.redirectUris.map((uri) => uri.replace(/\/auth\/callback$/, ''));

  const configuration: Configuration = {
    clients: [
      {
        client_id: IDP_CLIENT_ID,
        client_secret: IDP_CLIENT_SECRET,
        redirect_uris: options.redirectUris,
        post_logout_redirect_uris: postLogoutRedirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingJwk as Record<string, unknown>] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    // What each scope releases. With oidc-provider's default conformIdTokenClaims, these
    // come from userinfo only, not in the ID token: Portier must read both.
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    features: {
      devInteractions: { enabled: false },
      // The provider's own sign-out page, without the default's web font (no request leaves the machine).
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: { body: unknown }, form: string) => {
          ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP: sign out</title></head><body>
<h1>Sign out of the Test IdP?</h1>${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button></body></html>`;
        },
      },
    },
    // Set, so that the provider does not print a notice for each default it falls back on.
    ttl: { Interaction: 600, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = bySub(sub);
      if (account === undefined) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          ...(account.name !== undefined && { name: account.name }),
          ...(account.email !== undefined && { email: account.email, email_verified: account.emailVerified ?? true }),
          ...(account.groups !== undefined && { groups: account.groups }),
        }),
      };
    },
    // Portier is a first-party client: no consent screen, everything asked for is granted.
    async loadExistingGrant(ctx) {
      const oidc = ctx.oidc;
      const clientId = oidc?.client?.clientId;
      if (oidc?.session?.accountId === undefined || clientId === undefined) return undefined;
      const existing = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(clientId);
      if (existing !== undefined) return provider.Grant.find(existing);
      const grant = new provider.Grant({ accountId: oidc.session.accountId, clientId });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, configuration);
  const idp: TestIdp = {
    issuer,
    clientId: IDP_CLIENT_ID,
    clientSecret: IDP_CLIENT_SECRET,
    accounts,
    tamperIdToken: undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    restart: () => new Promise<void>((resolve) => server.listen(port, host, resolve)),
    async resign(idToken, claims, key = 'provider') {
      const signer = key === 'provider' ? privateKey : (await generateKeyPair('ES256')).privateKey;
      return new SignJWT({ ...decodeJwt(idToken), ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'idp-key-1' }).sign(signer);
    },
  };
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (ctx.oidc?.route === 'token' && idp.tamperIdToken !== undefined && typeof body?.id_token === 'string') {
      ctx.body = { ...body, id_token: await idp.tamperIdToken(body.id_token) };
    }
  });

  const callback = provider.callback();
  handler = (request, response) => {
    const path = new URL(request.url ?? '/', issuer).pathname;
    if (!path.startsWith('/interaction/')) {
      callback(request, response);
      return;
    }
    loginInteraction(provider, accounts, request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  };
  return idp;
}

/** The provider's own login page: GET shows it, POST checks the password and goes on with the sign-in. */
async function loginInteraction(
  provider: Provider,
  accounts: Map<string, IdpAccount>,
  request: IncomingMessage,
  response: import('node:http').ServerResponse,
): Promise<void> {
  const { uid, prompt } = await provider.interactionDetails(request, response);
  if (prompt.name !== 'login') {
    response.writeHead(501, { 'content-type': 'text/plain' }).end(`no page for the ${prompt.name} prompt`);
    return;
  }
  if (request.method === 'GET') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(uid, undefined));
    return;
  }
  const form = new URLSearchParams(await readBody(request));
  const account = accounts.get(form.get('username') ?? '');
  if (account === undefined || account.password !== form.get('password')) {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(uid, 'Wrong username or password.'));
    return;
  }
  await provider.interactionFinished(request, response, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
}

function loginPage(uid: string, error: string | undefined): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP: sign in</title></head><body>
<h1>Test IdP</h1>${error === undefined ? '' : `<p role="alert">${error}</p>`}
<form method="post" action="/interaction/${uid}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in at the IdP</button>
</form></body></html>`;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
