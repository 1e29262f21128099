import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { type Api, createApi, type Session } from './api';
import { AuditTrail } from './audit/AuditTrail';
import { ClientDetail } from './clients/ClientDetail';
import { ClientsList } from './clients/ClientsList';
import { CreateClient } from './clients/CreateClient';
import { Keys } from './keys/Keys';
import { Link, Router, useRouter } from './router';
import { SignIn } from './SignIn';
import { ServiceDetail } from './services/ServiceDetail';
import { ServicesList } from './services/ServicesList';
import { TrustedIssuerDetail } from './trusted-issuers/TrustedIssuerDetail';
import { TrustedIssuersList } from './trusted-issuers/TrustedIssuersList';

export function App() {
  return (
    <Router>
      <Console />
    </Router>
  );
}

function Console() {
  // The session (and its token) lives in this state only: never in storage, a cookie or a URL.
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((message: string | null) => {
    setSession(null);
    setNotice(message);
  }, []);

  useEffect(() => {
    if (session === null) return;
    const timer = window.setTimeout(() => signOut('Your session has expired. Sign in again.'), Math.max(0, session.expiresAt - Date.now()));
    return () => window.clearTimeout(timer);
  }, [session, signOut]);

  const api = useMemo(
    () => (session === null ? null : createApi(session.token, () => signOut('Your session has expired. Sign in again.'))),
    [session, signOut],
  );

  if (session === null || api === null) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(next) => {
          setNotice(null);
          setSession(next);
        }}
      />
    );
  }
  return <Shell session={session} api={api} onSignOut={() => signOut('You have signed out.')} />;
}

function Shell({ session, api, onSignOut }: { session: Session; api: Api; onSignOut: () => void }) {
  const { location } = useRouter();
  const { path } = location;
  const main = useRef<HTMLElement>(null);
  // A new screen: keyboard and screen-reader users start at its top, not on a link that is gone.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each change of screen
  useEffect(() => {
    main.current?.focus();
  }, [path]);
  let screen: JSX.Element;
  const detail = /^\/clients\/([^/]+)$/.exec(path);
  const service = /^\/services\/([^/]+)$/.exec(path);
  const trustedIssuer = /^\/trusted-issuers\/([^/]+)$/.exec(path);
  if (path === '/services') screen = <ServicesList api={api} canWrite={session.canWrite} />;
  else if (path === '/trusted-issuers') screen = <TrustedIssuersList api={api} canWrite={session.canWrite} />;
  else if (trustedIssuer?.[1] !== undefined) {
    screen = <TrustedIssuerDetail api={api} id={decodeURIComponent(trustedIssuer[1])} canWrite={session.canWrite} />;
  } else if (service?.[1] !== undefined)
    screen = <ServiceDetail api={api} id={decodeURIComponent(service[1])} canWrite={session.canWrite} />;
  else if (path === '/keys') screen = <Keys api={api} canWrite={session.canWrite} />;
  else if (path === '/audit') screen = <AuditTrail api={api} />;
  else if (path === '/clients/new' && session.canWrite) screen = <CreateClient api={api} />;
  else if (detail?.[1] !== undefined && path !== '/clients/new') {
    screen = <ClientDetail api={api} clientId={decodeURIComponent(detail[1])} canWrite={session.canWrite} />;
  } else screen = <ClientsList api={api} canWrite={session.canWrite} />;

  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/clients" className="brand">
          Portier console
        </Link>
        <nav aria-label="Main">
          <Link to="/clients" aria-current={path.startsWith('/clients') ? 'page' : undefined}>
            Clients
          </Link>
          <Link to="/services" aria-current={path.startsWith('/services') ? 'page' : undefined}>
            Services
          </Link>
          <Link to="/trusted-issuers" aria-current={path.startsWith('/trusted-issuers') ? 'page' : undefined}>
            Trusted issuers
          </Link>
          <Link to="/keys" aria-current={path === '/keys' ? 'page' : undefined}>
            Signing keys
          </Link>
          <Link to="/audit" aria-current={path === '/audit' ? 'page' : undefined}>
            Audit trail
          </Link>
        </nav>
        <div className="who">
          <span>
            {session.clientId} <span className="badge">{session.canWrite ? 'read and write' : 'read only'}</span>
          </span>
          <button type="button" className="secondary" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main ref={main} tabIndex={-1}>
        {screen}
      </main>
    </div>
  );
}
