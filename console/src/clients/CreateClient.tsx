import { type FormEvent, useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api } from '../api';
import type { MessageId } from '../i18n/messages';
import { Link, useRouter } from '../router';
import { useServices } from '../services/useServices';
import { useTrustedIssuers } from '../trusted-issuers/useTrustedIssuers';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { useFormSubmission } from '../ui/useFormSubmission';
import { CertificateAuthFields } from './CertificateAuthFields';
import { readNewClient } from './client-form';
import { FederatedIdentitiesEditor } from './FederatedIdentitiesEditor';
import type { IdentityRow } from './federated-identities';
import { GrantsEditor } from './GrantsEditor';
import type { Grant } from './grants';
import { SecretDialog } from './SecretDialog';

/**
 * /console/clients/new. `owner`: an operator's, whose new clients are always theirs (the
 * form says so instead of asking); null for an admin, who names the owner. The grants
 * offer the services the admin API lists, which for an operator are the self-service ones.
 */
export function CreateClient({ api, owner, canSetIdentities }: { api: Api; owner: string | null; canSetIdentities: boolean }) {
  const { navigate } = useRouter();
  const services = useServices(api);
  const issuers = useTrustedIssuers(api);
  const [grants, setGrants] = useState<Grant[]>([]);
  // A secret, or the platform's own tokens (federated): then the identities it signs in as.
  const [federated, setFederated] = useState(false);
  const [identities, setIdentities] = useState<IdentityRow[]>([]);
  const { errors, busy, submit } = useFormSubmission();
  const [created, setCreated] = useState<{ clientId: string; secret: string } | null>(null);
  const intl = useIntl();
  const message = (id: MessageId) => intl.formatMessage({ id });
  const title = intl.formatMessage({ id: 'app.title' }, { screen: message('clients.new') });

  useEffect(() => {
    document.title = title;
  }, [title]);

  const create = async (event: FormEvent<HTMLFormElement>) => {
    const state = { owner, grants, identities: federated ? identities : null };
    const made = await submit(
      event,
      (form) => readNewClient(form, state, intl),
      (body) => api.POST('/admin/clients', { body }),
      message('create.failed'),
    );
    if (made === undefined) return;
    // A federated client has no secret to show: straight to its screen.
    if (made.client_secret === undefined) navigate(`/clients/${encodeURIComponent(made.client_id)}`);
    else setCreated({ clientId: made.client_id, secret: made.client_secret });
  };

  const { aria, describedBy, error: fieldError, formError } = fieldErrorViews(errors, 'error-');

  return (
    <section aria-labelledby="create-heading">
      <p>
        <Link to="/clients">← {message('nav.clients')}</Link>
      </p>
      <h1 id="create-heading">{message('clients.new')}</h1>
      <form className="stack" onSubmit={create} noValidate>
        {formError()}
        {Object.keys(errors).length > 0 && errors.form === undefined && (
          <p className="error" role="alert">
            {message('create.seeFields')}
          </p>
        )}
        <label htmlFor="client-name">{message('client.name')}</label>
        <input id="client-name" name="name" required {...aria('name')} />
        {fieldError('name')}
        <label htmlFor="client-id">{message('create.clientId')}</label>
        <input id="client-id" name="client_id" {...aria('client_id')} />
        {fieldError('client_id')}
        {owner === null ? (
          <>
            <label htmlFor="client-owner">{message('create.owner')}</label>
            <input id="client-owner" name="owner" required {...aria('owner')} />
            {fieldError('owner')}
          </>
        ) : (
          <p>{intl.formatMessage({ id: 'create.ownerYou' }, { owner: <strong key="owner">{owner}</strong> })}</p>
        )}
        <label htmlFor="client-description">{message('client.description')}</label>
        <textarea id="client-description" name="description" rows={3} {...aria('description')} />
        {fieldError('description')}

        <GrantsEditor
          services={services}
          grants={grants}
          onChange={setGrants}
          error={fieldError('grants')}
          describedBy={describedBy('grants')}
        />

        {canSetIdentities && (
          <fieldset>
            <legend>{message('create.howSignsIn')}</legend>
            <label className="check">
              <input type="radio" name="auth" checked={!federated} onChange={() => setFederated(false)} />
              {message('create.withSecret')}
            </label>
            <label className="check">
              <input type="radio" name="auth" checked={federated} onChange={() => setFederated(true)} />
              {message('create.withPlatform')}
            </label>
          </fieldset>
        )}
        {federated && (
          <FederatedIdentitiesEditor
            issuers={issuers}
            rows={identities}
            onChange={setIdentities}
            error={fieldError('federated_identities')}
            describedBy={describedBy('federated_identities')}
          />
        )}
        {!federated && <CertificateAuthFields idPrefix="create" errors={errors} />}

        <label htmlFor="client-ip-ranges">{message('create.ipRanges')}</label>
        <textarea id="client-ip-ranges" name="ip_ranges" rows={3} placeholder="192.0.2.0/24" {...aria('ip_ranges')} />
        {fieldError('ip_ranges')}
        <label htmlFor="client-expires">
          {intl.formatMessage({ id: 'create.expires' }, { zone: Intl.DateTimeFormat().resolvedOptions().timeZone })}
        </label>
        <input id="client-expires" name="expires_at" type="datetime-local" {...aria('expires_at')} />
        {fieldError('expires_at')}
        <div>
          <button type="submit" disabled={busy}>
            {message(busy ? 'create.busy' : 'create.submit')}
          </button>
        </div>
      </form>
      {created !== null && (
        <SecretDialog
          clientId={created.clientId}
          secret={created.secret}
          onClose={() => navigate(`/clients/${encodeURIComponent(created.clientId)}`)}
        />
      )}
    </section>
  );
}
