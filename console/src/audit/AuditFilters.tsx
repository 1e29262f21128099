import { formText, fromLocalInput, toLocalInput } from '../format';
import { FilterField, FilterForm } from '../ui/FilterForm';

const TIMES: readonly string[] = ['since', 'until'];
const FILTERS = ['action', 'client_id', 'actor_client_id', ...TIMES];

/** A filter's value for the URL: times in ISO 8601 (local time on screen), the rest as typed. */
function filterValue(form: FormData, name: string): string {
  return TIMES.includes(name) ? fromLocalInput(String(form.get(name) ?? '')) : formText(form, name);
}

/** The audit trail's filters, read from and written to the query string; times in local time on screen, ISO 8601 in the URL. */
export function AuditFilters() {
  return (
    <FilterForm label="Filter events" path="/audit" names={FILTERS} readValue={filterValue}>
      {(params) => (
        <>
          <FilterField id="audit-action" name="action" label="Action" placeholder="client.updated" params={params} />
          <FilterField id="audit-client" name="client_id" label="Client ID" params={params} />
          <FilterField id="audit-actor" name="actor_client_id" label="By (admin client ID)" params={params} />
          <FilterField id="audit-since" name="since" label="Since" type="datetime-local" params={params} fromQuery={toLocalInput} />
          <FilterField id="audit-until" name="until" label="Until" type="datetime-local" params={params} fromQuery={toLocalInput} />
        </>
      )}
    </FilterForm>
  );
}
