import { useIntl } from 'react-intl';
import type { Credential } from '../api';
import type { MessageId } from '../i18n/messages';
import { ConfirmedAction } from '../ui/ConfirmedAction';
import { Time } from '../ui/Time';
import { ExpiryBadge } from './ExpiryBadge';

const KIND_NAMES = { secret: 'credentials.kindSecret', public_key: 'credentials.kindKey' } as const satisfies Record<
  Credential['kind'],
  MessageId
>;
const STATUS_NAMES = {
  active: 'credentials.statusActive',
  expired: 'credentials.statusExpired',
  revoked: 'credentials.statusRevoked',
} as const satisfies Record<Credential['status'], MessageId>;

/**
 * A client's credentials: what each is, who added it and when, when it expires (with a badge
 * when that is soon) and when it was last used; for a key, its kid, alg and JWK thumbprint.
 * `onRemove` (write access): a remove button on each live one, asked again before it runs.
 */
export function CredentialsTable({
  credentials,
  busy,
  onRemove,
}: {
  credentials: Credential[];
  busy: boolean;
  onRemove: ((credential: Credential) => Promise<void>) | null;
}) {
  const intl = useIntl();
  const label = (id: MessageId) => intl.formatMessage({ id });
  return (
    <table className="credentials">
      <thead>
        <tr>
          <th scope="col">{label('credentials.id')}</th>
          <th scope="col">{label('credentials.kind')}</th>
          <th scope="col">{label('client.description')}</th>
          <th scope="col">{label('client.created')}</th>
          <th scope="col">{label('client.createdBy')}</th>
          <th scope="col">{label('client.expires')}</th>
          <th scope="col">{label('client.lastUsed')}</th>
          <th scope="col">{label('credentials.key')}</th>
          {onRemove !== null && <th scope="col">{label('credentials.actions')}</th>}
        </tr>
      </thead>
      <tbody>
        {credentials.map((credential) => (
          <tr key={credential.id} data-credential={credential.id}>
            <td data-label={label('credentials.id')}>
              <code>{credential.id}</code>
            </td>
            <td data-label={label('credentials.kind')}>
              {label(KIND_NAMES[credential.kind])}
              {credential.status !== 'active' && (
                <>
                  {' '}
                  <span className="badge">{label(STATUS_NAMES[credential.status])}</span>
                </>
              )}
            </td>
            <td data-label={label('client.description')}>{credential.description || '—'}</td>
            <td data-label={label('client.created')}>
              <Time iso={credential.created_at} />
            </td>
            <td data-label={label('client.createdBy')}>{credential.created_by_name ?? credential.created_by}</td>
            <td data-label={label('client.expires')}>
              {credential.expires_at === null ? (
                label('client.neverExpires')
              ) : (
                <>
                  <Time iso={credential.expires_at} withZone /> <ExpiryBadge iso={credential.expires_at} />
                </>
              )}
              {credential.over_policy && (
                <>
                  {' '}
                  <span className="badge" title={label('credentials.overPolicyHint')}>
                    {label('credentials.overPolicy')}
                  </span>
                </>
              )}
            </td>
            <td data-label={label('client.lastUsed')}>
              {credential.last_used_at === null ? label('client.notYetUsed') : <Time iso={credential.last_used_at} show="relative" />}
            </td>
            <td data-label={label('credentials.key')}>{credential.kind === 'public_key' ? <KeyFacts credential={credential} /> : '—'}</td>
            {onRemove !== null && (
              <td data-label={label('credentials.actions')}>
                {credential.status !== 'revoked' && (
                  <ConfirmedAction
                    label={label('credentials.remove')}
                    labelClassName="secondary"
                    question={intl.formatMessage({ id: 'credentials.removeQuestion' }, { id: credential.id })}
                    confirmLabel={label('credentials.removeYes')}
                    cancelLabel={label('common.cancel')}
                    busy={busy}
                    onConfirm={() => onRemove(credential)}
                  />
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A public key's kid, alg and RFC 7638 thumbprint, as far as it has them. */
function KeyFacts({ credential }: { credential: Credential }) {
  const intl = useIntl();
  return (
    <dl className="key-facts">
      <dt>kid</dt>
      <dd>{credential.kid == null ? intl.formatMessage({ id: 'credentials.notSet' }) : <code>{credential.kid}</code>}</dd>
      <dt>alg</dt>
      <dd>{credential.alg == null ? intl.formatMessage({ id: 'credentials.notSet' }) : <code>{credential.alg}</code>}</dd>
      <dt>{intl.formatMessage({ id: 'credentials.thumbprint' })}</dt>
      <dd>
        <code>{credential.thumbprint ?? '—'}</code>
      </dd>
    </dl>
  );
}
