import { useCallback, useEffect, useState } from 'react';
import type { Api, SigningKey } from '../api';
import { exactTime, problemMessage } from '../format';

const when = (iso: string | null) => (iso === null ? '—' : <time dateTime={iso}>{exactTime(iso)}</time>);

/** /console/keys: the signing keys (public parts), and rotation after a confirmation. */
export function Keys({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const [keys, setKeys] = useState<SigningKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
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
      setConfirming(false);
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
      {canWrite && (
        <div className="panel">
          <h2>Rotate</h2>
          {confirming ? (
            <div role="alert">
              <p>Rotate now? New tokens will be signed with a new key at once.</p>
              <button type="button" className="danger" disabled={busy} onClick={() => void rotate()}>
                Yes, rotate
              </button>
              <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="button" onClick={() => setConfirming(true)}>
              Rotate signing key
            </button>
          )}
        </div>
      )}
      {keys === null && error === null && (
        <p role="status" className="muted">
          Loading keys…
        </p>
      )}
      {keys !== null && (
        <table className="keys">
          <thead>
            <tr>
              <th scope="col">Key ID</th>
              <th scope="col">Algorithm</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Active from</th>
              <th scope="col">Retired</th>
              <th scope="col">Published until</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.kid}>
                <td data-label="Key ID">
                  <code>{key.kid}</code>
                </td>
                <td data-label="Algorithm">{key.alg}</td>
                <td data-label="Status">{key.status}</td>
                <td data-label="Created">{when(key.created_at)}</td>
                <td data-label="Active from">{when(key.activates_at)}</td>
                <td data-label="Retired">{when(key.retired_at)}</td>
                <td data-label="Published until">{when(key.publish_until)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
