import { useCallback, useEffect, useState } from 'react';
import type { Api, TrustedIssuer } from '../api';
import { problemMessage } from '../format';
import { NewTrustedIssuer } from './NewTrustedIssuer';
import { TrustedIssuersTable } from './TrustedIssuersTable';

/** /console/trusted-issuers: the platforms federated clients sign in with, and a form for a new one. */
export function TrustedIssuersList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const [issuers, setIssuers] = useState<TrustedIssuer[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const { data, error } = await api.GET('/admin/trusted-issuers');
      if (data === undefined) setLoadError(problemMessage(error, 'The trusted issuers could not be loaded.'));
      else setIssuers(data.items);
    } catch {
      setLoadError('The trusted issuers could not be loaded: Portier is not reachable.');
    }
  }, [api]);

  useEffect(() => {
    document.title = 'Trusted issuers · Portier console';
    void load();
  }, [load]);

  return (
    <section aria-labelledby="issuers-heading">
      <h1 id="issuers-heading">Trusted issuers</h1>
      <p className="muted">
        Platforms whose tokens clients sign in with instead of a secret: a Kubernetes cluster, GitHub Actions, a SPIFFE trust domain.
      </p>
      {loadError !== null && (
        <p className="error" role="alert">
          {loadError}
        </p>
      )}
      {issuers === null && loadError === null && (
        <p role="status" className="muted">
          Loading trusted issuers…
        </p>
      )}
      {issuers !== null && issuers.length === 0 && <p className="empty">No trusted issuers.</p>}
      {issuers !== null && issuers.length > 0 && <TrustedIssuersTable issuers={issuers} />}
      {canWrite && <NewTrustedIssuer api={api} onCreated={load} />}
    </section>
  );
}
