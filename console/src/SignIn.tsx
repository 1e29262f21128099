import { type FormEvent, useEffect, useRef, useState } from 'react';
import { type Session, type SignInState, signIn } from './api';

const FAILED = 'Sign-in failed. Check the client ID and secret, and that the client is an enabled admin client.';

const UNREACHABLE = 'cannot be reached right now, so nobody can sign in through it. Try again later';

/**
 * The first screen: "Sign in with …" through the organisation's identity provider when
 * Portier has one (a plain link: the sign-in is a series of redirects), and the
 * break-glass sign-in with an admin client's credentials unless CONSOLE_CLIENT_SIGN_IN=false.
 */
export function SignIn({
  notice,
  state,
  onSignedIn,
}: {
  notice: string | null;
  state: SignInState;
  onSignedIn: (session: Session) => void;
}) {
  const { sso, client } = state.sign_in;
  const provider = sso?.name ?? 'your organisation';
  // GET /console/auth/login sends the browser back here with this when the provider is down.
  const unavailable = sso !== null && (!sso.available || new URLSearchParams(window.location.search).get('sign_in') === 'unavailable');
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    document.title = 'Sign in · Portier console';
  }, []);

  return (
    <main className="signin">
      <h1 ref={heading}>Portier console</h1>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {sso !== null && (
        <section aria-label={`Sign in with ${provider}`}>
          {unavailable ? (
            <p className="error" role="alert">
              The sign-in service of {provider} {UNREACHABLE}
              {client ? ', or use an admin client below.' : '.'}
            </p>
          ) : (
            <p>
              <a className="button" href="/console/auth/login">
                Sign in with {provider}
              </a>
            </p>
          )}
        </section>
      )}
      {client && sso !== null && <h2 id="client-heading">Or with an admin client (break-glass)</h2>}
      {client && <ClientSignInForm onSignedIn={onSignedIn} withSso={sso !== null} />}
    </main>
  );
}

/** The admin client's ID and secret, exchanged at /oauth/token for an admin token kept in memory. */
function ClientSignInForm({ onSignedIn, withSso }: { onSignedIn: (session: Session) => void; withSso: boolean }) {
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const result = await signIn(clientId.trim(), secret);
    // The secret is forgotten as soon as it has been exchanged, whatever the outcome.
    setSecret('');
    setBusy(false);
    if (result.ok) {
      onSignedIn(result.session);
      return;
    }
    setError(
      result.retryAfterSeconds === undefined
        ? FAILED
        : `Too many failed sign-ins. Try again in ${result.retryAfterSeconds} seconds (at ${new Date(
            Date.now() + result.retryAfterSeconds * 1000,
          ).toLocaleTimeString()}).`,
    );
  };

  return (
    <>
      <p>Sign in with the client ID and secret of an admin client (granted the portier-admin service).</p>
      <form onSubmit={submit} noValidate aria-labelledby={withSso ? 'client-heading' : undefined}>
        <label htmlFor="signin-id">Client ID</label>
        <input
          id="signin-id"
          name="client_id"
          autoComplete="username"
          required
          value={clientId}
          onChange={(event) => setClientId(event.target.value)}
        />
        <label htmlFor="signin-secret">Client secret</label>
        <input
          id="signin-secret"
          name="client_secret"
          type="password"
          autoComplete="current-password"
          required
          value={secret}
          onChange={(event) => setSecret(event.target.value)}
        />
        {error !== null && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || clientId.trim() === '' || secret === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </>
  );
}
