import type { Api, TrustedIssuer, TrustedIssuerPatch } from '../api';
import { exactTime, managedText, problemMessage } from '../format';
import { Link } from '../router';
import { DeletePanel } from '../ui/DeletePanel';
import { DetailsList } from '../ui/DetailsList';
import { FormStatus, LoadStatus } from '../ui/StatusLines';
import { type EditableResource, useRecordEditor } from '../ui/useRecordEditor';
import { keySourceOf } from './issuer-form';
import { readIssuerChanges, TrustedIssuerFields } from './TrustedIssuerFields';

/** A trusted issuer's fields, for a reader (who cannot edit). */
function TrustedIssuerSummary({ issuer }: { issuer: TrustedIssuer }) {
  const keys = {
    discovery: 'from its discovery document',
    jwks_uri: issuer.jwks_uri ?? '',
    jwks: `${issuer.jwks?.keys.length ?? 0} pasted key(s)`,
  };
  const rows = [
    ['ID', issuer.id],
    ['Issuer', issuer.issuer],
    ['Keys', keys[keySourceOf(issuer)]],
    ['Audience', issuer.audience ?? "Portier's own issuer URL"],
    ['Oldest token', `${issuer.max_token_age} s`],
    ['Algorithms', issuer.algorithms.join(' ')],
    ['Token exchange subject', issuer.token_exchange ? 'yes' : 'no'],
    ['JWT bearer grant', issuer.jwt_bearer ? 'yes' : 'no'],
    ['Managed', managedText(issuer.managed)],
    ['Created', exactTime(issuer.created_at)],
    ['Updated', exactTime(issuer.updated_at)],
  ] as const;
  return <DetailsList rows={rows} />;
}

const TRUSTED_ISSUER: EditableResource<TrustedIssuer, TrustedIssuerPatch> = {
  what: 'trusted issuer',
  listTitle: 'Trusted issuers',
  listPath: '/trusted-issuers',
  get: (api, id) => api.GET('/admin/trusted-issuers/{id}', { params: { path: { id } } }),
  patch: (api, id, body) => api.PATCH('/admin/trusted-issuers/{id}', { params: { path: { id } }, body }),
  delete: (api, id) => api.DELETE('/admin/trusted-issuers/{id}', { params: { path: { id } } }),
  // A 409 names the clients that still use it in its detail.
  deleteErrors: (problem) => ({ form: [problemMessage(problem, 'The trusted issuer could not be deleted.')] }),
};

/** /console/trusted-issuers/:id: edit or delete one trusted issuer. */
export function TrustedIssuerDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { record: issuer, loadError, errors, notice, save, remove } = useRecordEditor(api, id, TRUSTED_ISSUER);

  return (
    <section aria-labelledby="issuer-heading">
      <p>
        <Link to="/trusted-issuers">← Trusted issuers</Link>
      </p>
      <h1 id="issuer-heading">Trusted issuer {id}</h1>
      <LoadStatus error={loadError} loaded={issuer !== null} loadingText="Loading trusted issuer…" />
      <FormStatus errors={errors} notice={notice} />
      {issuer !== null && !canWrite && <TrustedIssuerSummary issuer={issuer} />}
      {issuer !== null && canWrite && (
        <>
          {issuer.managed && <p>{managedText(true)}</p>}
          <form className="stack" onSubmit={(event) => save(event, readIssuerChanges)} noValidate key={issuer.updated_at}>
            <TrustedIssuerFields issuer={issuer} errors={errors} withId={false} />
            <div>
              <button type="submit">Save trusted issuer</button>
            </div>
          </form>
          <DeletePanel
            what="trusted issuer"
            id={issuer.id}
            consequence="Its tokens will no longer sign anyone in."
            headingId="issuer-delete-heading"
            onDelete={remove}
          />
        </>
      )}
    </section>
  );
}
