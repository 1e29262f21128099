import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Client } from '../api';
import { operatorChoices, quotaText, toLocalInput } from '../format';
import type { MessageId } from '../i18n/messages';
import { useServices } from '../services/useServices';
import { useTrustedIssuers } from '../trusted-issuers/useTrustedIssuers';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { TokenShapeFields } from '../ui/TokenShapeFields';
import { useFormSubmission } from '../ui/useFormSubmission';
import { CertificateAuthFields } from './CertificateAuthFields';
import { type ClientChangesState, readClientChanges } from './client-form';
import { FederatedIdentitiesEditor } from './FederatedIdentitiesEditor';
import { identityRows } from './federated-identities';
import { GrantsEditor } from './GrantsEditor';
import type { Grant } from './grants';
import { QuotaFields } from './QuotaFields';

/**
 * The edit form of a client's changeable fields (the client ID never changes; the owner, by
 * an admin only). An operator (`canShapeTokens` false) sees what shapes the tokens
 * read-only, but for the roles and lifetime the client's services let them choose; the form
 * sends only what they may change.
 */
export function EditClient({
  api,
  client,
  canSetOwner,
  canSetIdentities,
  canShapeTokens,
  onSaved,
  onCancel,
}: {
  api: Api;
  client: Client;
  canSetOwner: boolean;
  /** Change the platform identities, or switch to them (admins). */
  canSetIdentities: boolean;
  /** Set roles, claims, lifetime and quota as they like (admins). */
  canShapeTokens: boolean;
  onSaved: (client: Client) => void;
  onCancel: () => void;
}) {
  const services = useServices(api);
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const issuers = useTrustedIssuers(api);
  const [grants, setGrants] = useState<Grant[]>(client.grants);
  const isFederated = client.auth_method === 'federated';
  // A client with a secret or keys may switch to platform identities here (its secrets go).
  const [switching, setSwitching] = useState(false);
  const [identities, setIdentities] = useState(identityRows(client.federated_identities));
  const { errors, busy, submit } = useFormSubmission();
  // What the services of the grants in the form let an operator choose.
  const choices = operatorChoices(
    services,
    grants.map((grant) => grant.service),
  );
  const rolesOpen = canShapeTokens || choices.roles.length > 0;
  const ttlOpen = canShapeTokens || choices.maxTtl !== null;
  const state: ClientChangesState = {
    grants,
    identities: canSetIdentities && (isFederated || switching) ? identities : null,
    switching,
    canSetOwner,
    canShapeTokens,
    rolesOpen,
    ttlOpen,
  };

  const save = async (event: FormEvent<HTMLFormElement>) => {
    const saved = await submit(
      event,
      (form) => readClientChanges(form, client, state, intl),
      (body) => api.PATCH('/admin/clients/{client_id}', { params: { path: { client_id: client.client_id } }, body }),
      say('edit.saveFailed'),
    );
    if (saved !== undefined) onSaved(saved);
  };

  const { aria, describedBy, error, formError } = fieldErrorViews(errors, 'edit-error-');

  return (
    <form className="stack" onSubmit={save} noValidate aria-labelledby="edit-heading">
      <h2 id="edit-heading">{say('edit.heading')}</h2>
      {formError()}
      <label htmlFor="edit-name">{say('client.name')}</label>
      <input id="edit-name" name="name" required defaultValue={client.name} {...aria('name')} />
      {error('name')}
      {canSetOwner && (
        <>
          <label htmlFor="edit-owner">{say('edit.owner')}</label>
          <input id="edit-owner" name="owner" required defaultValue={client.owner} {...aria('owner')} />
          {error('owner')}
        </>
      )}
      <label htmlFor="edit-description">{say('client.description')}</label>
      <textarea id="edit-description" name="description" rows={3} defaultValue={client.description} {...aria('description')} />
      {error('description')}
      <label htmlFor="edit-first-name">{say('edit.firstName')}</label>
      <input id="edit-first-name" name="first_name" defaultValue={client.first_name ?? ''} {...aria('first_name')} />
      {error('first_name')}
      <label htmlFor="edit-last-name">{say('summary.lastName')}</label>
      <input id="edit-last-name" name="last_name" defaultValue={client.last_name ?? ''} {...aria('last_name')} />
      {error('last_name')}
      <label htmlFor="edit-roles">
        {canShapeTokens
          ? say('edit.roles')
          : rolesOpen
            ? intl.formatMessage({ id: 'edit.rolesChoose' }, { roles: choices.roles.join(', ') })
            : say('edit.rolesByAdmin')}
      </label>
      <input id="edit-roles" name="roles" defaultValue={client.roles.join(' ')} readOnly={!rolesOpen} {...aria('roles')} />
      {error('roles')}
      <GrantsEditor services={services} grants={grants} onChange={setGrants} error={error('grants')} describedBy={describedBy('grants')} />
      {canSetIdentities && !isFederated && (
        <label className="check">
          <input type="checkbox" checked={switching} onChange={(event) => setSwitching(event.target.checked)} />
          {say('edit.switchToPlatform')}
        </label>
      )}
      {canSetIdentities && (isFederated || switching) && (
        <FederatedIdentitiesEditor
          issuers={issuers}
          rows={identities}
          onChange={setIdentities}
          error={error('federated_identities')}
          describedBy={describedBy('federated_identities')}
        />
      )}
      {!isFederated && !switching && <CertificateAuthFields idPrefix="edit" client={client} errors={errors} />}
      <label htmlFor="edit-ip-ranges">{say('edit.ipRanges')}</label>
      <textarea id="edit-ip-ranges" name="ip_ranges" rows={3} defaultValue={client.ip_ranges.join('\n')} {...aria('ip_ranges')} />
      {error('ip_ranges')}
      <label htmlFor="edit-expires">
        {intl.formatMessage({ id: 'edit.expires' }, { zone: Intl.DateTimeFormat().resolvedOptions().timeZone })}
      </label>
      <input
        id="edit-expires"
        name="expires_at"
        type="datetime-local"
        defaultValue={toLocalInput(client.expires_at)}
        {...aria('expires_at')}
      />
      {error('expires_at')}
      <TokenShapeFields
        idPrefix="edit"
        errorPrefix="edit-error-"
        ttl={client.access_token_ttl}
        claims={client.claims}
        inherit={say('edit.ttlInherit')}
        errors={errors}
        operator={canShapeTokens ? undefined : { maxTtl: choices.maxTtl }}
      />
      {!canShapeTokens && <p>{intl.formatMessage({ id: 'edit.quotaByAdmin' }, { quota: quotaText(client.token_quota, intl) })}</p>}
      {canShapeTokens && <QuotaFields quota={client.token_quota} errors={errors} />}
      <div>
        <button type="submit" disabled={busy}>
          {say(busy ? 'common.saving' : 'edit.save')}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {say('common.cancel')}
        </button>
      </div>
    </form>
  );
}
