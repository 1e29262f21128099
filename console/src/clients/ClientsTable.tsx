import type { BulkResult, Client } from '../api';
import { exactTime, relativeTime } from '../format';
import { Link } from '../router';
import type { BulkSelection } from './BulkBar';

/** One page of clients; with write access, a tick box per client for the bulk bar, and the last bulk action's results. */
export function ClientsTable({ clients, canWrite, bulk }: { clients: Client[]; canWrite: boolean; bulk: BulkSelection }) {
  const withResults = bulk.results.size > 0;
  return (
    <table className="clients">
      <thead>
        <tr>
          {canWrite && (
            <th scope="col">
              <span className="visually-hidden">Select</span>
            </th>
          )}
          <th scope="col">Name</th>
          <th scope="col">Client ID</th>
          <th scope="col">Owner</th>
          <th scope="col">Status</th>
          <th scope="col">Services</th>
          <th scope="col">Last used</th>
          <th scope="col">Expires</th>
          {withResults && <th scope="col">Bulk result</th>}
        </tr>
      </thead>
      <tbody>
        {clients.map((client) => (
          <ClientRow
            key={client.client_id}
            client={client}
            selectable={canWrite}
            selected={bulk.selected.has(client.client_id)}
            onToggle={() => bulk.toggle(client.client_id)}
            result={withResults ? (bulk.results.get(client.client_id) ?? null) : undefined}
          />
        ))}
      </tbody>
    </table>
  );
}

/** `result`: undefined when the table has no result column, null when this client had no part in the bulk action. */
function ClientRow({
  client,
  selectable,
  selected,
  onToggle,
  result,
}: {
  client: Client;
  selectable: boolean;
  selected: boolean;
  onToggle: () => void;
  result: BulkResult | null | undefined;
}) {
  return (
    <tr>
      {selectable && (
        <td data-label="Select">
          <input type="checkbox" aria-label={`Select ${client.client_id}`} checked={selected} onChange={onToggle} />
        </td>
      )}
      <td data-label="Name">
        <Link to={`/clients/${encodeURIComponent(client.client_id)}`}>{client.name}</Link>
        {client.managed ? ' (managed by configuration)' : ''}
      </td>
      <td data-label="Client ID">
        <code>{client.client_id}</code>
      </td>
      <td data-label="Owner">{client.owner}</td>
      <td data-label="Status">
        <span className={`status status-${client.status}`}>{client.status}</span>
      </td>
      <td data-label="Services">{client.grants.map((grant) => grant.service).join(', ') || '—'}</td>
      <td data-label="Last used">
        {client.last_used_at === null ? (
          'never'
        ) : (
          <time dateTime={client.last_used_at} title={exactTime(client.last_used_at)}>
            {relativeTime(client.last_used_at)}
          </time>
        )}
      </td>
      <td data-label="Expires">
        {client.expires_at === null ? (
          'never'
        ) : (
          <time dateTime={client.expires_at} title={exactTime(client.expires_at)}>
            {exactTime(client.expires_at)}
          </time>
        )}
      </td>
      {result !== undefined && <td data-label="Bulk result">{bulkOutcome(result)}</td>}
    </tr>
  );
}

function bulkOutcome(result: BulkResult | null): string {
  if (result === null) return '';
  return result.ok ? `done (${result.status ?? ''})` : `failed: ${result.error ?? ''}`;
}
