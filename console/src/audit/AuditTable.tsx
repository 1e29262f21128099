import { useIntl } from 'react-intl';
import type { AuditEvent } from '../api';
import type { MessageId } from '../i18n/messages';
import { Link } from '../router';
import { Time } from '../ui/Time';
import { AuditDetails } from './AuditDetails';

/** Audit events as a table: the trail's page, or one client's history (without the client column). */
export function AuditTable({ events, withClient = false }: { events: AuditEvent[]; withClient?: boolean }) {
  const intl = useIntl();
  const label = (id: MessageId) => intl.formatMessage({ id });
  return (
    <table className="audit">
      <thead>
        <tr>
          <th scope="col">{label('audit.when')}</th>
          <th scope="col">{label('audit.action')}</th>
          {withClient && <th scope="col">{label('audit.client')}</th>}
          <th scope="col">{label('audit.by')}</th>
          <th scope="col">{label('audit.details')}</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={event.id}>
            <td data-label={label('audit.when')}>
              <Time iso={event.at} show="relative" />
            </td>
            <td data-label={label('audit.action')}>
              <code>{event.action}</code>
              {event.count > 1 ? ` ×${intl.formatNumber(event.count)}` : ''}
            </td>
            {withClient && (
              <td data-label={label('audit.client')}>
                {event.client_id === null ? '—' : <Link to={`/clients/${encodeURIComponent(event.client_id)}`}>{event.client_id}</Link>}
              </td>
            )}
            <td data-label={label('audit.by')}>
              {event.actor.name ?? event.actor.client_id ?? event.actor.sub ?? '—'}
              {event.actor.ip ? ` (${event.actor.ip})` : ''}
            </td>
            <td data-label={label('audit.details')}>
              <AuditDetails details={event.details} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
