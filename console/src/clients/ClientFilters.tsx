import type { FormEvent } from 'react';
import type { ClientStatus, Service } from '../api';
import { formText, listUrl } from '../format';
import { useRouter } from '../router';

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
  const { location, navigate } = useRouter();
  const params = location.search;
  const service = params.get('service');

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const chosen = new URLSearchParams();
    for (const name of FILTERS) {
      const value = formText(form, name);
      if (value !== '') chosen.set(name, value);
    }
    navigate(listUrl('/clients', chosen));
  };

  return (
    <form className="filters" onSubmit={apply} key={params.toString()} aria-label="Filter clients">
      <div className="field">
        <label htmlFor="filter-name">Name</label>
        <input id="filter-name" name="name" defaultValue={params.get('name') ?? ''} />
      </div>
      {byOwner && (
        <div className="field">
          <label htmlFor="filter-owner">Owner</label>
          <input id="filter-owner" name="owner" defaultValue={params.get('owner') ?? ''} />
        </div>
      )}
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
      <div className="field actions">
        <button type="submit">Apply filters</button>
      </div>
    </form>
  );
}
