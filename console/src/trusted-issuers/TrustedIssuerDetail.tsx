import { useIntl } from 'react-intl';
import type { Api, TrustedIssuer, TrustedIssuerPatch } from '../api';
import type { MessageId } from '../i18n/messages';
import { explainProblem } from '../i18n/problems';
import { Link } from '../router';
import { DeletePanel } from '../ui/DeletePanel';
import { type DetailRow, DetailsList } from '../ui/DetailsList';
import { managedMessage } from '../ui/managed';
import { FormStatus, LoadStatus } from '../ui/StatusLines';
import { Time } from '../ui/Time';
import { type EditableResource, useRecordEditor } from '../ui/useRecordEditor';
import { keySourceOf } from './issuer-form';
import { readIssuerChanges, TrustedIssuerFields } from './TrustedIssuerFields';

/** A trusted issuer's fields, for a reader (who cannot edit). */
function TrustedIssuerSummary({ issuer }: { issuer: TrustedIssuer }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const keys = {
    discovery: say('issuer.keysFromDiscovery'),
    jwks_uri: issuer.jwks_uri ?? '',
    jwks: intl.formatMessage({ id: 'issuers.keysPasted' }, { count: issuer.jwks?.keys.length ?? 0 }),
  };
  const rows: DetailRow[] = [
    [say('service.id'), issuer.id],
    [say('issuer.issuer'), issuer.issuer],
    [say('issuer.keys'), keys[keySourceOf(issuer)]],
    [say('service.audience'), issuer.audience ?? say('issuer.ownAudience')],
    [say('issuer.oldestToken'), intl.formatMessage({ id: 'common.seconds' }, { seconds: issuer.max_token_age })],
    [say('issuer.algorithms'), issuer.algorithms.join(' ')],
    [say('issuer.exchangeSubject'), say(issuer.token_exchange ? 'common.yes' : 'common.no')],
    [say('issuer.jwtBearer'), say(issuer.jwt_bearer ? 'common.yes' : 'common.no')],
    [say('summary.managed'), say(managedMessage(issuer.managed))],
    [say('client.created'), <Time key="created" iso={issuer.created_at} />],
    [say('summary.updated'), <Time key="updated" iso={issuer.updated_at} />],
  ];
  return <DetailsList rows={rows} />;
}

const TRUSTED_ISSUER: EditableResource<TrustedIssuer, TrustedIssuerPatch> = {
  loadFailed: 'issuer.loadFailed',
  saveFailed: 'issuer.saveFailed',
  listTitle: 'nav.trustedIssuers',
  listPath: '/trusted-issuers',
  get: (api, id) => api.GET('/admin/trusted-issuers/{id}', { params: { path: { id } } }),
  patch: (api, id, body) => api.PATCH('/admin/trusted-issuers/{id}', { params: { path: { id } }, body }),
  delete: (api, id) => api.DELETE('/admin/trusted-issuers/{id}', { params: { path: { id } } }),
  // A 409 names the clients that still use it in its detail.
  deleteErrors: (problem, intl) => ({ form: [explainProblem(intl, problem, intl.formatMessage({ id: 'issuer.deleteFailed' }))] }),
};

/** /console/trusted-issuers/:id: edit or delete one trusted issuer. */
export function TrustedIssuerDetail({ api, id, canWrite }: { api: Api; id: string; canWrite: boolean }) {
  const { record: issuer, loadError, errors, notice, save, remove } = useRecordEditor(api, id, TRUSTED_ISSUER);
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });

  return (
    <section aria-labelledby="issuer-heading">
      <p>
        <Link to="/trusted-issuers">← {say('nav.trustedIssuers')}</Link>
      </p>
      <h1 id="issuer-heading">{intl.formatMessage({ id: 'issuer.heading' }, { id })}</h1>
      <LoadStatus error={loadError} loaded={issuer !== null} loadingText={say('issuer.loading')} />
      <FormStatus errors={errors} notice={notice} />
      {issuer !== null && !canWrite && <TrustedIssuerSummary issuer={issuer} />}
      {issuer !== null && canWrite && (
        <>
          {issuer.managed && <p>{say(managedMessage(true))}</p>}
          <form
            className="stack"
            onSubmit={(event) => save(event, (form) => readIssuerChanges(form, intl))}
            noValidate
            key={issuer.updated_at}
          >
            <TrustedIssuerFields issuer={issuer} errors={errors} withId={false} />
            <div>
              <button type="submit">{say('issuer.save')}</button>
            </div>
          </form>
          <DeletePanel
            label={say('issuer.delete')}
            question={intl.formatMessage({ id: 'issuer.deleteQuestion' }, { id: issuer.id })}
            confirmLabel={say('issuer.deleteYes')}
            headingId="issuer-delete-heading"
            onDelete={remove}
          />
        </>
      )}
    </section>
  );
}
