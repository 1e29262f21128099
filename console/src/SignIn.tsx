import { type FormEvent, useEffect, useRef, useState } from 'react';
import { type Session, signIn } from './api';

const FAILED = 'Sign-in failed. Check the client ID and secret, and that the client is an enabled admin client.';

export function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (session: Session) => void }) {
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    document.title = 'Sign in · Portier console';
  }, []);

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
    <main className="signin">
      <h1 ref={heading}>Portier console</h1>
      <p>Sign in with the client ID and secret of an admin client (granted the portier-admin service).</p>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} noValidate>
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
    </main>
  );
}
