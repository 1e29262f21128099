import type { AuditEvent } from '../api';
import { exactTime, relativeTime } from '../format';
import { Link } from '../router';

/** Audit events as a table: the trail's page, or one client's history (without the client column). */
export function AuditTable({ events, withClient = false }: { events: AuditEvent[]; withClient?: boolean }) {
  return (
    <table className="audit">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Action</th>
          {withClient && <th scope="col">Client</th>}
          <th scope="col">By</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={event.id}>
            <td data-label="When">
              <time dateTime={event.at} title={exactTime(event.at)}>
                {relativeTime(event.at)}
              </time>
            </td>
            <td data-label="Action">
              <code>{event.action}</code>
              {event.count > 1 ? ` ×${event.count}` : ''}
            </td>
            {withClient && (
              <td data-label="Client">
                {event.client_id === null ? '—' : <Link to={`/clients/${encodeURIComponent(event.client_id)}`}>{event.client_id}</Link>}
              </td>
            )}
            <td data-label="By">
              {event.actor.name ?? event.actor.client_id ?? event.actor.sub ?? '—'}
              {event.actor.ip ? ` (${event.actor.ip})` : ''}
            </td>
            <td data-label="Details">
              <code className="details-json">{JSON.stringify(event.details)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
