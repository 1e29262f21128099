import type { Api, TrustedIssuer } from '../api';
import { NewRecordForm } from '../ui/NewRecordForm';
import { LoadStatus } from '../ui/StatusLines';
import { useWholeList, type WholeListFetcher } from '../ui/useWholeList';
import { readNewIssuer, TrustedIssuerFields } from './TrustedIssuerFields';
import { TrustedIssuersTable } from './TrustedIssuersTable';

const fetchIssuers: WholeListFetcher<TrustedIssuer> = (api) => api.GET('/admin/trusted-issuers');

/** /console/trusted-issuers: the platforms federated clients sign in with, and a form for a new one. */
export function TrustedIssuersList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const { items: issuers, loadError, reload } = useWholeList(api, fetchIssuers, 'trusted issuers', 'Trusted issuers');

  return (
    <section aria-labelledby="issuers-heading">
      <h1 id="issuers-heading">Trusted issuers</h1>
      <p className="muted">
        Platforms whose tokens clients sign in with instead of a secret: a Kubernetes cluster, GitHub Actions, a SPIFFE trust domain.
      </p>
      <LoadStatus error={loadError} loaded={issuers !== null} loadingText="Loading trusted issuers…" />
      {issuers !== null && issuers.length === 0 && <p className="empty">No trusted issuers.</p>}
      {issuers !== null && issuers.length > 0 && <TrustedIssuersTable issuers={issuers} />}
      {canWrite && (
        <NewRecordForm
          what="trusted issuer"
          headingId="new-issuer-heading"
          read={readNewIssuer}
          create={(body) => api.POST('/admin/trusted-issuers', { body })}
          onCreated={reload}
        >
          {(errors) => <TrustedIssuerFields errors={errors} withId />}
        </NewRecordForm>
      )}
    </section>
  );
}
