import { useCallback, useEffect, useState } from 'react';
import type { Api, SigningKey } from '../api';
import { problemMessage } from '../format';
import { KeysTable } from './KeysTable';
import { RotateKey } from './RotateKey';

/** /console/keys: the signing keys (public parts), and rotation after a confirmation. */
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
      {canWrite && <RotateKey busy={busy} onRotate={rotate} />}
      {keys === null && error === null && (
        <p role="status" className="muted">
          Loading keys…
        </p>
      )}
      {keys !== null && <KeysTable keys={keys} />}
    </section>
  );
}
