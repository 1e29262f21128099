import type { ClientStatus, Service } from '../api';
import { FilterField, FilterForm } from '../ui/FilterForm';

const FILTERS = ['name', 'owner', 'status', 'service'] as const;
/** The status filter's choices: every status of the API's schema, and no other (checked below). */
const STATUSES = ['active', 'disabled', 'expired'] as const satisfies readonly ClientStatus[];
/** A status the API gains but the filter does not offer is a type error here. */
const everyStatusOffered: Exclude<ClientStatus, (typeof STATUSES)[number]> extends never ? true : never = true;
void everyStatusOffered;

/**
 * The clients list's filters, read from and written to the query string (so that Back
 * returns to the previous filters). `byOwner`: offer the owner filter (not to an operator,
 * whose clients all have one owner).
 */
export function ClientFilters({ services, byOwner = true }: { services: Service[]; byOwner?: boolean }) {
  return (
    <FilterForm label="Filter clients" path="/clients" names={FILTERS}>
      {(params) => {
        const service = params.get('service');
        return (
          <>
            <FilterField id="filter-name" name="name" label="Name" params={params} />
            {byOwner && <FilterField id="filter-owner" name="owner" label="Owner" params={params} />}
            <div className="field">
              <label htmlFor="filter-status">Status</label>
              <select id="filter-status" name="status" defaultValue={params.get('status') ?? ''}>
                <option value="">Any</option>
                {STATUSES.map((status) => (
                  <option key={status} value={status}>
                    {status}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="filter-service">Service</label>
              <select id="filter-service" name="service" defaultValue={service ?? ''}>
                <option value="">Any</option>
                {services.map(({ id, name }) => (
                  <option key={id} value={id}>
                    {name} ({id})
                  </option>
                ))}
                {/* A service in the URL that is not (or not yet) in the catalogue stays chosen. */}
                {service && !services.some(({ id }) => id === service) && <option value={service}>{service}</option>}
              </select>
            </div>
          </>
        );
      }}
    </FilterForm>
  );
}
