import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cookieValues } from '../people/cookies.js';
import { ProviderAnswerRefused, ProviderDeclined, ProviderUnavailable } from '../people/oidc.js';
import { CONSOLE_HOME, type People, SIGN_IN_PATHS } from '../people/people.js';
import { SignInRefused } from '../people/person.js';
import { finishSignIn, SignInMismatch } from '../people/sign-in.js';
import { SECURITY_HEADERS } from './console.js';

/**
 * People's sign-in to the console (src/people/): where the console learns how one signs in
 * and who is signed in, the start and the callback of the authorization code flow, and
 * sign-out. The console's security headers apply here too. Nothing here is cached by a browser or a proxy (no-store), and no cookie value or token
 * reaches a log line.
 */
export async function consoleAuthRoutes(app: FastifyInstance): Promise<void> {
  const { portier } = app;
  const { people } = portier;

  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-store');
  });

  /** How one signs in here, and who is signed in (from the session cookie), for the console's first screen. */
  app.get(SIGN_IN_PATHS.session, { schema: { hide: true } }, async (request) => {
    const sso = people === undefined ? null : { name: people.settings.name ?? null, available: await people.provider.reachable() };
    return {
      sign_in: { sso, client: portier.config.console.clientSignIn },
      person: people === undefined ? null : await signedIn(people, request, portier.clock()),
    };
  });

  app.get(SIGN_IN_PATHS.login, { schema: { hide: true } }, async (_request, reply) => {
    if (people === undefined) return notConfigured(reply);
    try {
      const { url, login } = await people.provider.begin();
      return reply.header('set-cookie', people.cookies.loginCookie(people.keys.sealLogin(login))).redirect(url, 302);
    } catch (error) {
      if (!(error instanceof ProviderUnavailable)) throw error;
      portier.repeatedLog.warn(
        'identity provider unreachable',
        { reason: error.message },
        'sign-in: the identity provider cannot be reached',
      );
      return reply.redirect('/console/?sign_in=unavailable', 302);
    }
  });

  app.get(SIGN_IN_PATHS.callback, { schema: { hide: true } }, async (request, reply) => {
    if (people === undefined) return notConfigured(reply);
    // Whatever happens, this sign-in is over: its cookie goes.
    reply.header('set-cookie', people.cookies.clearLogin());
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    try {
      const { cookie, session } = await finishSignIn(
        people,
        portier.db,
        { query, cookieHeader: request.headers.cookie, ip: request.ip },
        portier.clock(),
      );
      request.log.info({ subject: session.subject, role: session.role, session: session.id }, 'person signed in to the console');
      return reply.header('set-cookie', [people.cookies.clearLogin(), people.cookies.sessionCookie(cookie)]).redirect(CONSOLE_HOME, 302);
    } catch (error) {
      const failure = signInFailure(error);
      if (failure === undefined) throw error;
      request.log.warn({ reason: error instanceof Error ? error.message : String(error) }, 'console sign-in refused');
      return page(reply, failure.status, 'Sign-in failed', failure.message);
    }
  });

  app.post(SIGN_IN_PATHS.logout, { schema: { hide: true } }, async (request, reply) => {
    if (people === undefined) return notConfigured(reply);
    if (request.headers.origin !== people.origin) {
      return reply
        .status(403)
        .type('application/problem+json')
        .send({
          type: 'urn:portier:problem:forbidden',
          title: 'Forbidden',
          status: 403,
          detail: `sign-out must come from ${people.origin} (its Origin header)`,
        });
    }
    let endSessionUrl: string | undefined;
    for (const value of cookieValues(request.headers.cookie, people.cookies.session)) {
      const ended = await people.sessions.end(value);
      if (ended === undefined) continue;
      request.log.info({ subject: ended.subject, session: ended.id }, 'person signed out of the console');
      endSessionUrl ??= await people.provider.endSessionUrl(ended.idToken, `${people.issuer}/console`);
    }
    return reply.header('set-cookie', people.cookies.clearSession()).send({ end_session_url: endSessionUrl ?? null });
  });
}

/** The person behind the request's session cookie, as the console shows them, or null. */
async function signedIn(people: People, request: FastifyRequest, now: number) {
  for (const value of cookieValues(request.headers.cookie, people.cookies.session)) {
    const lookup = await people.sessions.find(value, now);
    if (lookup.found) {
      const { name, owner, role, subject, expiresAt } = lookup.session;
      return { name, owner, role, subject, expires_at: new Date(expiresAt).toISOString() };
    }
  }
  return null;
}

/** The answer to a failed callback: what the person reads, never the detail the log gets. */
function signInFailure(error: unknown): { status: number; message: string } | undefined {
  if (error instanceof SignInMismatch) {
    return { status: 400, message: 'This sign-in does not belong to this browser, has expired or has already been used. Start again.' };
  }
  if (error instanceof SignInRefused) return { status: 403, message: `Portier cannot sign you in: ${error.message}.` };
  if (error instanceof ProviderDeclined) return { status: 403, message: 'Your identity provider did not sign you in.' };
  if (error instanceof ProviderAnswerRefused) {
    return { status: 502, message: "Your identity provider's answer could not be verified, so you were not signed in." };
  }
  if (error instanceof ProviderUnavailable)
    return { status: 502, message: 'Your identity provider cannot be reached right now. Try again later.' };
  return undefined;
}

function notConfigured(reply: FastifyReply): FastifyReply {
  return page(reply, 404, 'Not found', 'People do not sign in to this Portier through an identity provider.');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/**
 * A small page of its own, with a way back: no script, and its style from the console's
 * build (console/public/page.css, same origin, so the console's CSP holds).
 */
function page(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  const body = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Portier</title>
<link rel="stylesheet" href="/console/page.css"><link rel="icon" href="/console/favicon.svg" type="image/svg+xml"></head>
<body><header>Portier</header><main><h1>${escapeHtml(title)}</h1><p role="alert">${escapeHtml(message)}</p><p><a href="/console">Back to the sign-in page</a></p></main></body>
</html>
`;
  return reply.status(status).type('text/html; charset=utf-8').send(body);
}
