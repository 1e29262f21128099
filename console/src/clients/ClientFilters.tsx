import { useIntl } from 'react-intl';
import type { ClientStatus, Service } from '../api';
import { FilterField, FilterForm } from '../ui/FilterForm';
import { STATUS_NAMES } from './ClientsTable';

/** The "expires within" choices, in days. */
export const EXPIRY_WINDOWS = [7, 30] as const;
/** The "unused for" choices, in days: DORMANT_CLIENT_DAYS' default. */
export const UNUSED_WINDOWS = [90] as const;
const FILTERS = ['name', 'owner', 'created_by', 'status', 'service', 'expires_within', 'unused_for', 'sort'] as const;
/** The status filter's choices: every status of the API's schema, and no other (checked below). */
const STATUSES = ['active', 'disabled', 'expired'] as const satisfies readonly ClientStatus[];
/** A status the API gains but the filter does not offer is a type error here. */
const everyStatusOffered: Exclude<ClientStatus, (typeof STATUSES)[number]> extends never ? true : never = true;
void everyStatusOffered;

/**
 * The clients list's filters, read from and written to the query string (so that Back
 * returns to the previous filters; the sort is kept). `byOwner`: offer the owner filter (not
 * to an operator, whose clients all have one owner).
 */
export function ClientFilters({ services, byOwner = true }: { services: Service[]; byOwner?: boolean }) {
  const intl = useIntl();
  const any = intl.formatMessage({ id: 'filters.any' });
  return (
    <FilterForm label={intl.formatMessage({ id: 'clients.filters' })} path="/clients" names={FILTERS}>
      {(params) => {
        const service = params.get('service');
        return (
          <>
            <input type="hidden" name="sort" value={params.get('sort') ?? ''} />
            <FilterField id="filter-name" name="name" label={intl.formatMessage({ id: 'client.name' })} params={params} />
            {byOwner && <FilterField id="filter-owner" name="owner" label={intl.formatMessage({ id: 'client.owner' })} params={params} />}
            <FilterField id="filter-created-by" name="created_by" label={intl.formatMessage({ id: 'client.createdBy' })} params={params} />
            <div className="field">
              <label htmlFor="filter-status">{intl.formatMessage({ id: 'client.status' })}</label>
              <select id="filter-status" name="status" defaultValue={params.get('status') ?? ''}>
                <option value="">{any}</option>
                {STATUSES.map((status) => (
                  <option key={status} value={status}>
                    {intl.formatMessage({ id: STATUS_NAMES[status] })}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="filter-service">{intl.formatMessage({ id: 'client.service' })}</label>
              <select id="filter-service" name="service" defaultValue={service ?? ''}>
                <option value="">{any}</option>
                {services.map(({ id, name }) => (
                  <option key={id} value={id}>
                    {name} ({id})
                  </option>
                ))}
                {/* A service in the URL that is not (or not yet) in the catalogue stays chosen. */}
                {service && !services.some(({ id }) => id === service) && <option value={service}>{service}</option>}
              </select>
            </div>
            <div className="field">
              <label htmlFor="filter-expires">{intl.formatMessage({ id: 'client.expires' })}</label>
              <select id="filter-expires" name="expires_within" defaultValue={params.get('expires_within') ?? ''}>
                <option value="">{any}</option>
                {EXPIRY_WINDOWS.map((days) => (
                  <option key={days} value={String(days)}>
                    {intl.formatMessage({ id: 'filters.expiresWithin' }, { days })}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="filter-unused">{intl.formatMessage({ id: 'filters.unused' })}</label>
              <select id="filter-unused" name="unused_for" defaultValue={params.get('unused_for') ?? ''}>
                <option value="">{any}</option>
                {UNUSED_WINDOWS.map((days) => (
                  <option key={days} value={String(days)}>
                    {intl.formatMessage({ id: 'filters.unusedFor' }, { days })}
                  </option>
                ))}
              </select>
            </div>
          </>
        );
      }}
    </FilterForm>
  );
}
