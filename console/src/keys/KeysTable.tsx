import { useIntl } from 'react-intl';
import type { SigningKey } from '../api';
import type { MessageId } from '../i18n/messages';
import { Time } from '../ui/Time';

const when = (iso: string | null) => (iso === null ? '—' : <Time iso={iso} withZone />);

/** How the screen names a key's status (every status the API has). */
const KEY_STATUS = {
  next: 'keys.statusNext',
  active: 'keys.statusActive',
  retired: 'keys.statusRetired',
} as const satisfies Record<SigningKey['status'], MessageId>;

/** The signing keys' public parts and dates, in the person's time zone (UTC on hover). */
export function KeysTable({ keys }: { keys: SigningKey[] }) {
  const intl = useIntl();
  const columns = (
    ['keys.kid', 'keys.algorithm', 'client.status', 'client.created', 'keys.activeFrom', 'keys.retired', 'keys.publishedUntil'] as const
  ).map((id) => intl.formatMessage({ id }));
  const [kid, algorithm, status, created, activeFrom, retired, publishedUntil] = columns;
  return (
    <table className="keys">
      <thead>
        <tr>
          {columns.map((label) => (
            <th key={label} scope="col">
              {label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.kid}>
            <td data-label={kid}>
              <code>{key.kid}</code>
            </td>
            <td data-label={algorithm}>{key.alg}</td>
            <td data-label={status}>{intl.formatMessage({ id: KEY_STATUS[key.status] })}</td>
            <td data-label={created}>{when(key.created_at)}</td>
            <td data-label={activeFrom}>{when(key.activates_at)}</td>
            <td data-label={retired}>{when(key.retired_at)}</td>
            <td data-label={publishedUntil}>{when(key.publish_until)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
