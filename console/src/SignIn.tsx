import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useIntl } from 'react-intl';
import { type Session, type SignInState, signIn } from './api';
import { LanguageSwitch } from './i18n/LanguageSwitch';

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
  const intl = useIntl();
  const { sso, client } = state.sign_in;
  const provider = sso?.name ?? intl.formatMessage({ id: 'signIn.yourOrganisation' });
  // GET /console/auth/login sends the browser back here with this when the provider is down.
  const unavailable = sso !== null && (!sso.available || new URLSearchParams(window.location.search).get('sign_in') === 'unavailable');
  const heading = useRef<HTMLHeadingElement>(null);

  const title = intl.formatMessage({ id: 'signIn.title' });
  useEffect(() => {
    document.title = title;
  }, [title]);

  return (
    <main className="signin">
      <LanguageSwitch />
      <h1 ref={heading}>{intl.formatMessage({ id: 'app.name' })}</h1>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {sso !== null && (
        <section aria-label={intl.formatMessage({ id: 'signIn.with' }, { provider })}>
          {unavailable ? (
            <p className="error" role="alert">
              {intl.formatMessage({ id: client ? 'signIn.unreachableOrClient' : 'signIn.unreachable' }, { provider })}
            </p>
          ) : (
            <p>
              <a className="button" href="/console/auth/login">
                {intl.formatMessage({ id: 'signIn.with' }, { provider })}
              </a>
            </p>
          )}
        </section>
      )}
      {client && sso !== null && <h2 id="client-heading">{intl.formatMessage({ id: 'signIn.orClient' })}</h2>}
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
  const intl = useIntl();

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
        ? intl.formatMessage({ id: 'signIn.failed' })
        : intl.formatMessage(
            { id: 'signIn.tooMany' },
            {
              seconds: result.retryAfterSeconds,
              at: intl.formatTime(Date.now() + result.retryAfterSeconds * 1000, { timeStyle: 'medium' }),
            },
          ),
    );
  };

  return (
    <>
      <p>{intl.formatMessage({ id: 'signIn.clientIntro' })}</p>
      <form onSubmit={submit} noValidate aria-labelledby={withSso ? 'client-heading' : undefined}>
        <label htmlFor="signin-id">{intl.formatMessage({ id: 'client.clientId' })}</label>
        <input
          id="signin-id"
          name="client_id"
          autoComplete="username"
          required
          value={clientId}
          onChange={(event) => setClientId(event.target.value)}
        />
        <label htmlFor="signin-secret">{intl.formatMessage({ id: 'client.secret' })}</label>
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
          {intl.formatMessage({ id: busy ? 'signIn.busy' : 'signIn.submit' })}
        </button>
      </form>
    </>
  );
}
