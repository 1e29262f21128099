import { useState } from 'react';
import { useIntl } from 'react-intl';
import type { TokenQuota } from '../api';
import type { MessageId } from '../i18n/messages';
import { fieldErrorViews } from '../ui/fieldErrorViews';

/**
 * The edit form's token quota (admins): the server's default, or the client's own limits
 * and what happens beyond them. Its fields are there only for a quota of its own, which is
 * how client-form's readQuota tells the two apart.
 */
export function QuotaFields({ quota, errors }: { quota: TokenQuota | null; errors: Record<string, string[]> }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const [own, setOwn] = useState(quota !== null);
  const { describedBy, error } = fieldErrorViews(errors, 'edit-error-');
  return (
    <fieldset aria-describedby={describedBy('token_quota')}>
      <legend>{say('summary.tokenQuota')}</legend>
      <label className="check">
        <input type="checkbox" checked={own} onChange={(event) => setOwn(event.target.checked)} />
        {say('edit.ownQuota')}
      </label>
      {own && (
        <>
          <label htmlFor="edit-quota-hour">{say('edit.quotaHour')}</label>
          <input id="edit-quota-hour" name="quota_per_hour" inputMode="numeric" defaultValue={quota?.per_hour ?? ''} />
          <label htmlFor="edit-quota-day">{say('edit.quotaDay')}</label>
          <input id="edit-quota-day" name="quota_per_day" inputMode="numeric" defaultValue={quota?.per_day ?? ''} />
          <label htmlFor="edit-quota-mode">{say('edit.quotaBeyond')}</label>
          <select id="edit-quota-mode" name="quota_mode" defaultValue={quota?.mode ?? 'enforce'}>
            <option value="enforce">{say('edit.quotaRefuse')}</option>
            <option value="log">{say('edit.quotaLog')}</option>
          </select>
        </>
      )}
      {error('token_quota')}
    </fieldset>
  );
}
