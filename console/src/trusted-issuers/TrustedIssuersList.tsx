import { useIntl } from 'react-intl';
import type { Api, TrustedIssuer } from '../api';
import { NewRecordForm } from '../ui/NewRecordForm';
import { LoadStatus } from '../ui/StatusLines';
import { useWholeList, type WholeListFetcher } from '../ui/useWholeList';
import { readNewIssuer, TrustedIssuerFields } from './TrustedIssuerFields';
import { TrustedIssuersTable } from './TrustedIssuersTable';

const fetchIssuers: WholeListFetcher<TrustedIssuer> = (api) => api.GET('/admin/trusted-issuers');

/** /console/trusted-issuers: the platforms federated clients sign in with, and a form for a new one. */
export function TrustedIssuersList({ api, canWrite }: { api: Api; canWrite: boolean }) {
  const { items: issuers, loadError, reload } = useWholeList(api, fetchIssuers, 'issuers.loadFailed', 'nav.trustedIssuers');
  const intl = useIntl();

  return (
    <section aria-labelledby="issuers-heading">
      <h1 id="issuers-heading">{intl.formatMessage({ id: 'nav.trustedIssuers' })}</h1>
      <p className="muted">{intl.formatMessage({ id: 'issuers.intro' })}</p>
      <LoadStatus error={loadError} loaded={issuers !== null} loadingText={intl.formatMessage({ id: 'issuers.loading' })} />
      {issuers !== null && issuers.length === 0 && <p className="empty">{intl.formatMessage({ id: 'issuers.none' })}</p>}
      {issuers !== null && issuers.length > 0 && <TrustedIssuersTable issuers={issuers} />}
      {canWrite && (
        <NewRecordForm
          messages={{ heading: 'issuers.new', submit: 'issuers.create', created: 'issuers.created', failed: 'issuers.createFailed' }}
          headingId="new-issuer-heading"
          read={(form) => readNewIssuer(form, intl)}
          create={(body) => api.POST('/admin/trusted-issuers', { body })}
          onCreated={reload}
        >
          {(errors) => <TrustedIssuerFields errors={errors} withId />}
        </NewRecordForm>
      )}
    </section>
  );
}
