import { useCallback, useEffect, useState } from 'react';
import type { Api, SigningKey } from '../api';
import { exactTime, problemMessage } from '../format';
import { KeysTable } from './KeysTable';
import { NextKey } from './NextKey';
import { RotateKey } from './RotateKey';

/** A refusal's field messages (e.g. why a time is not allowed), else its detail. */
function refusal(problem: unknown, fallback: string): string {
  const errors = (problem as { errors?: Array<{ message: string }> } | undefined)?.errors;
  return Array.isArray(errors) && errors.length > 0 ? errors.map((error) => error.message).join('; ') : problemMessage(problem, fallback);
}

/**
 * /console/keys: the signing keys (public parts); rotation after a confirmation; when a
 * next key is published, when it takes over and bringing it forward.
 */
export function Keys({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const [keys, setKeys] = useState<SigningKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const { data, error: problem } = await api.GET('/admin/keys');
      if (data === undefined) setError(problemMessage(problem, 'The keys could not be loaded.'));
      else setKeys(data.items);
    } catch {
      setError('The keys could not be loaded: Portier is not reachable.');
    }
  }, [api]);

  useEffect(() => {
    document.title = 'Signing keys · Portier console';
    void load();
  }, [load]);

  const rotate = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const { data, error: problem } = await api.POST('/admin/keys/rotate', { body: {} });
      if (data === undefined) setError(problemMessage(problem, 'The key could not be rotated.'));
      else {
        setKeys(data.items);
        setNotice(
          data.status === 'next'
            ? `A new signing key is published now and starts signing at ${new Date(data.activates_at).toLocaleString()}, once verifiers' cached key sets know it.`
            : 'The new signing key signs from now on; the previous one stays published for tokens it signed.',
        );
      }
    } catch {
      setError('Portier is not reachable.');
    } finally {
      setBusy(false);
    }
  };

  const bringForward = async (kid: string, at: string | undefined) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const { data, error: problem } = await api.POST('/admin/keys/{kid}/activate', {
        params: { path: { kid } },
        body: at === undefined ? {} : { at },
      });
      if (data === undefined) setError(refusal(problem, 'The key could not be brought forward.'));
      else {
        setKeys(data.items);
        setNotice(
          data.status === 'active'
            ? `Key ${data.kid} signs from now on; the previous one stays published for tokens it signed.`
            : `Key ${data.kid} now takes over signing at ${exactTime(data.activates_at)}.`,
        );
      }
    } catch {
      setError('Portier is not reachable.');
    } finally {
      setBusy(false);
    }
  };
  const nextKey = keys?.find((key) => key.status === 'next');

  return (
    <section aria-labelledby="keys-heading">
      <h1 id="keys-heading">Signing keys</h1>
      <p className="muted">The keys that sign access tokens (public parts only), as published in the JWKS.</p>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {(nextKey !== undefined || canWrite) && (
        <div className="panels">
          {nextKey !== undefined && (
            <NextKey nextKey={nextKey} canWrite={canWrite} busy={busy} onBringForward={(at) => bringForward(nextKey.kid, at)} />
          )}
          {canWrite && <RotateKey busy={busy} onRotate={rotate} />}
        </div>
      )}
      {keys === null && error === null && (
        <p role="status" className="muted">
          Loading keys…
        </p>
      )}
      {keys !== null && <KeysTable keys={keys} />}
    </section>
  );
}
