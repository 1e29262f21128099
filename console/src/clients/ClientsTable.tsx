import { useIntl } from 'react-intl';
import type { BulkResult, Client } from '../api';
import type { MessageId } from '../i18n/messages';
import { Link } from '../router';
import { Time } from '../ui/Time';
import type { BulkSelection } from './BulkBar';
import { SortHeader } from './SortHeader';

export const STATUS_NAMES = { active: 'status.active', disabled: 'status.disabled', expired: 'status.expired' } as const satisfies Record<
  Client['status'],
  MessageId
>;

/**
 * One page of clients, its columns sortable (the sort is in the URL); with write access, a
 * tick box per client and one for the whole page for the bulk bar, an enable/disable switch
 * on each row, and the last bulk action's results.
 */
export function ClientsTable({
  clients,
  canWrite,
  bulk,
  onSwitch,
}: {
  clients: Client[];
  canWrite: boolean;
  bulk: BulkSelection;
  onSwitch: (client: Client) => void;
}) {
  const intl = useIntl();
  const withResults = bulk.results.size > 0;
  const ids = clients.map((client) => client.client_id);
  const allSelected = ids.length > 0 && ids.every((id) => bulk.selected.has(id));
  return (
    <table className="clients">
      <thead>
        <tr>
          {canWrite && (
            <th scope="col">
              <input
                type="checkbox"
                aria-label={intl.formatMessage({ id: 'clients.selectAll' })}
                checked={allSelected}
                onChange={() => bulk.setSelected(allSelected ? [] : ids)}
              />
            </th>
          )}
          <SortHeader field="name" label={intl.formatMessage({ id: 'client.name' })} />
          <th scope="col">{intl.formatMessage({ id: 'client.clientId' })}</th>
          <SortHeader field="owner" label={intl.formatMessage({ id: 'client.owner' })} />
          <th scope="col">{intl.formatMessage({ id: 'client.status' })}</th>
          {canWrite && <th scope="col">{intl.formatMessage({ id: 'clients.enabled' })}</th>}
          <th scope="col">{intl.formatMessage({ id: 'client.services' })}</th>
          <SortHeader field="created_at" label={intl.formatMessage({ id: 'client.created' })} />
          <SortHeader field="last_used_at" label={intl.formatMessage({ id: 'client.lastUsed' })} />
          <SortHeader field="expires_at" label={intl.formatMessage({ id: 'client.expires' })} />
          {withResults && <th scope="col">{intl.formatMessage({ id: 'clients.bulkResult' })}</th>}
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
            onSwitch={() => onSwitch(client)}
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
  onSwitch,
  result,
}: {
  client: Client;
  selectable: boolean;
  selected: boolean;
  onToggle: () => void;
  onSwitch: () => void;
  result: BulkResult | null | undefined;
}) {
  const intl = useIntl();
  const label = (id: MessageId) => intl.formatMessage({ id });
  return (
    <tr>
      {selectable && (
        <td data-label={label('clients.select')}>
          <input
            type="checkbox"
            aria-label={intl.formatMessage({ id: 'clients.selectOne' }, { client: client.client_id })}
            checked={selected}
            onChange={onToggle}
          />
        </td>
      )}
      <td data-label={label('client.name')}>
        <Link to={`/clients/${encodeURIComponent(client.client_id)}`}>{client.name}</Link>
        {client.managed ? ` ${label('clients.managed')}` : ''}
      </td>
      <td data-label={label('client.clientId')}>
        <code>{client.client_id}</code>
      </td>
      <td data-label={label('client.owner')}>{client.owner}</td>
      <td data-label={label('client.status')}>
        <span className={`status status-${client.status}`}>{label(STATUS_NAMES[client.status])}</span>
      </td>
      {selectable && (
        <td data-label={label('clients.enabled')}>
          <button
            type="button"
            role="switch"
            className="switch"
            aria-checked={client.enabled}
            aria-label={intl.formatMessage({ id: 'clients.enabledSwitch' }, { client: client.client_id })}
            onClick={onSwitch}
          >
            {label(client.enabled ? 'clients.on' : 'clients.off')}
          </button>
        </td>
      )}
      <td data-label={label('client.services')}>{client.grants.map((grant) => grant.service).join(', ') || '—'}</td>
      <td data-label={label('client.created')}>
        <Time iso={client.created_at} />
      </td>
      <td data-label={label('client.lastUsed')}>
        {client.last_used_at === null ? label('client.notYetUsed') : <Time iso={client.last_used_at} show="relative" />}
      </td>
      <td data-label={label('client.expires')}>
        {client.expires_at === null ? label('client.neverExpires') : <Time iso={client.expires_at} withZone />}
      </td>
      {result !== undefined && <td data-label={label('clients.bulkResult')}>{bulkOutcome(result, intl.formatMessage)}</td>}
    </tr>
  );
}

function bulkOutcome(result: BulkResult | null, format: ReturnType<typeof useIntl>['formatMessage']): string {
  if (result === null) return '';
  return result.ok
    ? format({ id: 'clients.bulkDone' }, { status: String(result.status ?? '') })
    : format({ id: 'clients.bulkFailed' }, { error: result.error ?? '' });
}
