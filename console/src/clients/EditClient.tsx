import { type FormEvent, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Client, ClientPatch, Problem } from '../api';
import { formText, operatorChoices, optionalWholeNumber, quotaText, readTokenShape, toLocalInput, words } from '../format';
import type { MessageId } from '../i18n/messages';
import { explainFieldErrors, explainProblem } from '../i18n/problems';
import { useServices } from '../services/useServices';
import { useTrustedIssuers } from '../trusted-issuers/useTrustedIssuers';
import { fieldErrorViews } from '../ui/fieldErrorViews';
import { TokenShapeFields } from '../ui/TokenShapeFields';
import { CertificateAuthFields, readCertificateAuth } from './CertificateAuthFields';
import { FederatedIdentitiesEditor } from './FederatedIdentitiesEditor';
import { identitiesFromRows, identityRows } from './federated-identities';
import { GrantsEditor } from './GrantsEditor';
import { type Grant, withPickedGrant } from './grants';

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
  const [ownQuota, setOwnQuota] = useState(client.token_quota !== null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  // What the services of the grants in the form let an operator choose.
  const choices = operatorChoices(
    services,
    grants.map((grant) => grant.service),
  );
  const rolesOpen = canShapeTokens || choices.roles.length > 0;
  const ttlOpen = canShapeTokens || choices.maxTtl !== null;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name: string) => formText(form, name);
    const expires = value('expires_at');
    const expiry = expires === '' ? null : new Date(expires);
    if (expiry !== null && Number.isNaN(expiry.getTime())) {
      setErrors({ expires_at: [say('form.invalidTime')] });
      return;
    }
    const body: ClientPatch = {
      name: value('name'),
      description: value('description'),
      first_name: value('first_name') || null,
      last_name: value('last_name') || null,
      grants: withPickedGrant(grants, form),
      ip_ranges: words(value('ip_ranges')),
      expires_at: expiry === null ? null : expiry.toISOString(),
    };
    const local: Record<string, string[]> = {};
    if (canShapeTokens) {
      const shape = readTokenShape(value, intl);
      Object.assign(local, shape.errors);
      const perHour = optionalWholeNumber(value('quota_per_hour'));
      const perDay = optionalWholeNumber(value('quota_per_day'));
      if (ownQuota && (perHour === undefined || perDay === undefined)) local.token_quota = [say('edit.quotaInvalid')];
      Object.assign(body, shape.body, {
        token_quota: ownQuota
          ? { per_hour: perHour ?? null, per_day: perDay ?? null, mode: value('quota_mode') === 'log' ? 'log' : 'enforce' }
          : null,
      });
    } else if (ttlOpen) {
      const ttl = optionalWholeNumber(value('access_token_ttl'));
      if (ttl === undefined) local.access_token_ttl = [say('tokens.ttlWhole')];
      else if (ttl !== client.access_token_ttl) body.access_token_ttl = ttl;
    }
    if (rolesOpen) body.roles = words(value('roles'));
    const certificate = readCertificateAuth(form);
    Object.assign(local, certificate.errors);
    Object.assign(body, certificate.body);
    if (Object.keys(local).length > 0) {
      setErrors(local);
      return;
    }
    if (canSetIdentities && (isFederated || switching)) {
      const made = identitiesFromRows(identities);
      if (!made.ok) {
        setErrors({ federated_identities: [intl.formatMessage({ id: 'identities.notNameValue' }, made.error)] });
        return;
      }
      body.federated_identities = made.identities;
      if (switching) body.auth_method = 'federated';
    }
    if (canSetOwner && value('owner') !== client.owner) body.owner = value('owner');
    setBusy(true);
    setErrors({});
    try {
      const { data, error } = await api.PATCH('/admin/clients/{client_id}', { params: { path: { client_id: client.client_id } }, body });
      if (data !== undefined) {
        onSaved(data);
        return;
      }
      setErrors(explainFieldErrors(intl, error as Problem | undefined, say('edit.saveFailed')));
    } catch (thrown) {
      setErrors({ form: [explainProblem(intl, thrown, say('edit.saveFailed'))] });
    } finally {
      setBusy(false);
    }
  };

  const { aria, describedBy, error, formError } = fieldErrorViews(errors, 'edit-error-');

  return (
    <form className="stack" onSubmit={submit} noValidate aria-labelledby="edit-heading">
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
      {canShapeTokens && (
        <fieldset aria-describedby={describedBy('token_quota')}>
          <legend>{say('summary.tokenQuota')}</legend>
          <label className="check">
            <input type="checkbox" checked={ownQuota} onChange={(event) => setOwnQuota(event.target.checked)} />
            {say('edit.ownQuota')}
          </label>
          {ownQuota && (
            <>
              <label htmlFor="edit-quota-hour">{say('edit.quotaHour')}</label>
              <input id="edit-quota-hour" name="quota_per_hour" inputMode="numeric" defaultValue={client.token_quota?.per_hour ?? ''} />
              <label htmlFor="edit-quota-day">{say('edit.quotaDay')}</label>
              <input id="edit-quota-day" name="quota_per_day" inputMode="numeric" defaultValue={client.token_quota?.per_day ?? ''} />
              <label htmlFor="edit-quota-mode">{say('edit.quotaBeyond')}</label>
              <select id="edit-quota-mode" name="quota_mode" defaultValue={client.token_quota?.mode ?? 'enforce'}>
                <option value="enforce">{say('edit.quotaRefuse')}</option>
                <option value="log">{say('edit.quotaLog')}</option>
              </select>
            </>
          )}
          {error('token_quota')}
        </fieldset>
      )}
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
