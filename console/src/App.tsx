import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useIntl } from 'react-intl';
import { type Abilities, type Api, abilitiesOf, createApi, type Session, type SignInState, signInState, signOutPerson } from './api';
import { AuditTrail } from './audit/AuditTrail';
import { ClientDetail } from './clients/ClientDetail';
import { ClientsList } from './clients/ClientsList';
import { CreateClient } from './clients/CreateClient';
import { I18n } from './i18n/I18n';
import { LanguageSwitch } from './i18n/LanguageSwitch';
import { Keys } from './keys/Keys';
import { Link, Router, useRouter } from './router';
import { SignIn } from './SignIn';
import { ServiceDetail } from './services/ServiceDetail';
import { ServicesList } from './services/ServicesList';
import { Sessions } from './sessions/Sessions';
import { TrustedIssuerDetail } from './trusted-issuers/TrustedIssuerDetail';
import { TrustedIssuersList } from './trusted-issuers/TrustedIssuersList';
import { NotFound } from './ui/NotFound';
import { WebhookDetail } from './webhooks/WebhookDetail';
import { Webhooks } from './webhooks/Webhooks';

/** Set just before a person's sign-out continues at the identity provider, which sends the browser back: to say "signed out". */
const SIGNED_OUT_FLAG = 'portier.console.signedOut';

function setSignedOutFlag(): void {
  try {
    window.sessionStorage.setItem(SIGNED_OUT_FLAG, '1');
  } catch {
    // storage refused: the sign-in page then says nothing
  }
}

/** Whether this tab has just signed out through the identity provider (read once). */
function takeSignedOutFlag(): boolean {
  try {
    const set = window.sessionStorage.getItem(SIGNED_OUT_FLAG) !== null;
    window.sessionStorage.removeItem(SIGNED_OUT_FLAG);
    return set;
  } catch {
    return false;
  }
}

export function App() {
  return (
    <I18n>
      <Router>
        <Console />
      </Router>
    </I18n>
  );
}

function Console() {
  // An admin client's session (and its token) lives in this state only: never in storage, a
  // cookie or a URL. A person's session is an HttpOnly cookie the page never sees; the state
  // holds who they are, as GET /console/auth/session said.
  const [session, setSession] = useState<Session | null>(null);
  const [state, setState] = useState<SignInState | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const intl = useIntl();
  const expired = intl.formatMessage({ id: 'session.expired' });

  const signOut = useCallback((message: string | null) => {
    setSession(null);
    setNotice(message);
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: once, at start (a later change of language does not ask again)
  useEffect(() => {
    signInState()
      .then((found) => {
        setState(found);
        if (found.person !== null) setSession({ kind: 'person', ...found.person });
        else if (takeSignedOutFlag()) setNotice(intl.formatMessage({ id: 'session.signedOut' }));
      })
      .catch(() => setState({ sign_in: { sso: null, client: true }, person: null }));
  }, []);

  useEffect(() => {
    if (session === null || session.kind !== 'client') return;
    const timer = window.setTimeout(() => signOut(expired), Math.max(0, session.expiresAt - Date.now()));
    return () => window.clearTimeout(timer);
  }, [session, signOut, expired]);

  const api = useMemo(
    () => (session === null ? null : createApi(session.kind === 'client' ? session.token : null, () => signOut(expired))),
    [session, signOut, expired],
  );

  const signOutNow = async () => {
    if (session?.kind === 'person') {
      const endSession = await signOutPerson().catch(() => null);
      // Sign-out continues at the identity provider, which sends the browser back here.
      if (endSession !== null) {
        setSignedOutFlag();
        window.location.assign(endSession);
        return;
      }
    }
    signOut(intl.formatMessage({ id: 'session.signedOut' }));
  };

  if (state === null) {
    return (
      <main className="signin">
        <p role="status" className="muted">
          {intl.formatMessage({ id: 'common.loading' })}
        </p>
      </main>
    );
  }
  if (session === null || api === null) {
    return (
      <SignIn
        notice={notice}
        state={state}
        onSignedIn={(next) => {
          setNotice(null);
          setSession(next);
        }}
      />
    );
  }
  return <Shell session={session} api={api} onSignOut={signOutNow} />;
}

const ROLE_NAMES = { admin: 'role.admin', auditor: 'role.auditor', operator: 'role.operator' } as const;

/** Who is signed in, as the header shows it. */
function Who({ session }: { session: Session }) {
  const intl = useIntl();
  if (session.kind === 'person') {
    return (
      <span>
        {session.name} <span className="badge">{intl.formatMessage({ id: ROLE_NAMES[session.role] })}</span>
      </span>
    );
  }
  return (
    <span>
      {session.clientId} <span className="badge">{intl.formatMessage({ id: session.canWrite ? 'role.readWrite' : 'role.readOnly' })}</span>
    </span>
  );
}

function Shell({ session, api, onSignOut }: { session: Session; api: Api; onSignOut: () => void }) {
  const can: Abilities = abilitiesOf(session);
  const { location } = useRouter();
  const { path } = location;
  const main = useRef<HTMLElement>(null);
  const intl = useIntl();
  const message = (id: Parameters<typeof intl.formatMessage>[0]['id']) => intl.formatMessage({ id });
  // A new screen: keyboard and screen-reader users start at its top, not on a link that is gone.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each change of screen
  useEffect(() => {
    main.current?.focus();
  }, [path]);
  let screen: JSX.Element;
  const detail = /^\/clients\/([^/]+)$/.exec(path);
  const service = /^\/services\/([^/]+)$/.exec(path);
  const owner = session.kind === 'person' && can.ownClientsOnly ? session.owner : null;
  const trustedIssuer = /^\/trusted-issuers\/([^/]+)$/.exec(path);
  const webhook = /^\/webhooks\/([^/]+)$/.exec(path);
  if (path === '/services') screen = <ServicesList api={api} canWrite={can.services} />;
  else if (path === '/trusted-issuers') screen = <TrustedIssuersList api={api} canWrite={can.services} />;
  else if (trustedIssuer?.[1] !== undefined) {
    screen = <TrustedIssuerDetail api={api} id={decodeURIComponent(trustedIssuer[1])} canWrite={can.services} />;
  } else if (service?.[1] !== undefined) screen = <ServiceDetail api={api} id={decodeURIComponent(service[1])} canWrite={can.services} />;
  else if (path === '/keys' && can.keys) screen = <Keys api={api} canWrite={can.rotateKeys} />;
  else if (path === '/sessions' && can.sessions) screen = <Sessions api={api} canEnd={can.endSessions} />;
  else if (path === '/audit') screen = <AuditTrail api={api} />;
  else if (path === '/webhooks' && can.webhooks) screen = <Webhooks api={api} />;
  else if (webhook?.[1] !== undefined && can.webhooks) screen = <WebhookDetail api={api} id={decodeURIComponent(webhook[1])} />;
  else if (path === '/clients/new' && can.clients)
    screen = <CreateClient api={api} owner={owner} canSetIdentities={can.platformIdentities} />;
  else if (detail?.[1] !== undefined && path !== '/clients/new') {
    screen = (
      <ClientDetail
        api={api}
        clientId={decodeURIComponent(detail[1])}
        canWrite={can.clients}
        canSetOwner={can.owner}
        canSetIdentities={can.platformIdentities}
        canShapeTokens={can.tokenPolicy}
      />
    );
  } else if (path === '/' || path === '/clients') screen = <ClientsList api={api} canWrite={can.clients} mine={can.ownClientsOnly} />;
  // An unknown URL, or a screen this role may not open (/keys for an operator, /clients/new read-only).
  else screen = <NotFound />;

  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/clients" className="brand">
          {message('app.name')}
        </Link>
        <nav aria-label={message('nav.label')}>
          <Link to="/clients" aria-current={path.startsWith('/clients') ? 'page' : undefined}>
            {message(can.ownClientsOnly ? 'nav.myClients' : 'nav.clients')}
          </Link>
          <Link to="/services" aria-current={path.startsWith('/services') ? 'page' : undefined}>
            {message('nav.services')}
          </Link>
          <Link to="/trusted-issuers" aria-current={path.startsWith('/trusted-issuers') ? 'page' : undefined}>
            {message('nav.trustedIssuers')}
          </Link>
          {can.keys && (
            <Link to="/keys" aria-current={path === '/keys' ? 'page' : undefined}>
              {message('nav.keys')}
            </Link>
          )}
          <Link to="/audit" aria-current={path === '/audit' ? 'page' : undefined}>
            {message('nav.audit')}
          </Link>
          {can.webhooks && (
            <Link to="/webhooks" aria-current={path.startsWith('/webhooks') ? 'page' : undefined}>
              {message('nav.webhooks')}
            </Link>
          )}
          {can.sessions && (
            <Link to="/sessions" aria-current={path === '/sessions' ? 'page' : undefined}>
              {message('nav.sessions')}
            </Link>
          )}
        </nav>
        <div className="who">
          <Who session={session} />
          <button type="button" className="secondary" onClick={onSignOut}>
            {message('session.signOut')}
          </button>
        </div>
        <LanguageSwitch />
      </header>
      <main ref={main} tabIndex={-1}>
        {screen}
      </main>
    </div>
  );
}
