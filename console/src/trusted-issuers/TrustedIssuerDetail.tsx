import { type FormEvent, useEffect, useState } from 'react';
import type { Api, TrustedIssuer } from '../api';
import { exactTime, fieldErrors, managedText, problemMessage } from '../format';
import { Link, useRouter } from '../router';
import { DeletePanel } from '../ui/DeletePanel';
import { DetailsList } from '../ui/DetailsList';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { issuerFormBody, keySourceOf } from './issuer-form';
import { readIssuerForm, TrustedIssuerFields } from './TrustedIssuerFields';

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
    ['Managed', managedText(issuer.managed)],
    ['Created', exactTime(issuer.created_at)],
    ['Updated', exactTime(issuer.updated_at)],
  ] as const;
  return <DetailsList rows={rows} />;
}

/** /console/trusted-issuers/:id: edit or delete one trusted issuer. */
export function TrustedIssuerDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { navigate } = useRouter();
  const [issuer, setIssuer] = useState<TrustedIssuer | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    document.title = `${id} · Trusted issuers · Portier console`;
    api
      .GET('/admin/trusted-issuers/{id}', { params: { path: { id } } })
      .then(({ data, error }) =>
        data === undefined ? setLoadError(problemMessage(error, 'The trusted issuer could not be loaded.')) : setIssuer(data),
      )
      .catch(() => setLoadError('The trusted issuer could not be loaded: Portier is not reachable.'));
  }, [api, id]);

  const save = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setErrors({});
    setNotice(null);
    const made = issuerFormBody(readIssuerForm(new FormData(event.currentTarget)));
    if (!made.ok) {
      setErrors(made.errors);
      return;
    }
    const { data, error } = await api.PATCH('/admin/trusted-issuers/{id}', { params: { path: { id } }, body: made.body });
    if (data === undefined) setErrors(fieldErrors(error, 'The trusted issuer could not be saved.'));
    else {
      setIssuer(data);
      setNotice('Saved.');
    }
  };

  const remove = async () => {
    setErrors({});
    const { response, error } = await api.DELETE('/admin/trusted-issuers/{id}', { params: { path: { id } } });
    if (response.status === 204) navigate('/trusted-issuers', true);
    // A 409 names the clients that still use it in its detail.
    else setErrors({ form: [problemMessage(error, 'The trusted issuer could not be deleted.')] });
  };

  return (
    <section aria-labelledby="issuer-heading">
      <p>
        <Link to="/trusted-issuers">← Trusted issuers</Link>
      </p>
      <h1 id="issuer-heading">Trusted issuer {id}</h1>
      {loadError !== null && (
        <p className="error" role="alert">
          {loadError}
        </p>
      )}
      {issuer === null && loadError === null && (
        <p role="status" className="muted">
          Loading trusted issuer…
        </p>
      )}
      {fieldErrorViews(errors, 'issuer-error-').formError()}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {issuer !== null && !canWrite && <TrustedIssuerSummary issuer={issuer} />}
      {issuer !== null && canWrite && (
        <>
          {issuer.managed && <p>{managedText(true)}</p>}
          <form className="stack" onSubmit={save} noValidate key={issuer.updated_at}>
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
