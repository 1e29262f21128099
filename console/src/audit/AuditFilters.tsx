import { useIntl } from 'react-intl';
import { formText, fromLocalInput, toLocalInput } from '../format';
import { FilterField, FilterForm } from '../ui/FilterForm';

const TIMES: readonly string[] = ['since', 'until'];
const FILTERS = ['action', 'client_id', 'actor', ...TIMES];

/** The actions Portier records, for the action filter (one the list lacks still filters by URL). */
export const AUDIT_ACTIONS = [
  'client.created',
  'client.updated',
  'client.enabled',
  'client.disabled',
  'client.secret_regenerated',
  'client.deleted',
  'client.bootstrap_updated',
  'client.quota_exceeded',
  'token.denied',
  'service.created',
  'service.updated',
  'service.deleted',
  'trusted_issuer.created',
  'trusted_issuer.updated',
  'trusted_issuer.deleted',
  'key.rotated',
  'key.scheduled',
  'key.brought_forward',
  'key.emergency_rotated',
  'keys.resealed',
  'session.ended',
  'config.applied',
] as const;

/** A filter's value for the URL: times in ISO 8601 (local time on screen), the rest as typed. */
function filterValue(form: FormData, name: string): string {
  return TIMES.includes(name) ? fromLocalInput(String(form.get(name) ?? '')) : formText(form, name);
}

/** The audit trail's filters, read from and written to the query string; times in local time on screen, ISO 8601 in the URL. */
export function AuditFilters() {
  const intl = useIntl();
  return (
    <FilterForm label={intl.formatMessage({ id: 'audit.filters' })} path="/audit" names={FILTERS} readValue={filterValue}>
      {(params) => {
        const action = params.get('action');
        return (
          <>
            <div className="field">
              <label htmlFor="audit-action">{intl.formatMessage({ id: 'audit.action' })}</label>
              <select id="audit-action" name="action" defaultValue={action ?? ''}>
                <option value="">{intl.formatMessage({ id: 'filters.any' })}</option>
                {AUDIT_ACTIONS.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
                {action && !(AUDIT_ACTIONS as readonly string[]).includes(action) && <option value={action}>{action}</option>}
              </select>
            </div>
            <FilterField id="audit-client" name="client_id" label={intl.formatMessage({ id: 'client.clientId' })} params={params} />
            <FilterField id="audit-actor" name="actor" label={intl.formatMessage({ id: 'audit.person' })} params={params} />
            <FilterField
              id="audit-since"
              name="since"
              label={intl.formatMessage({ id: 'audit.since' })}
              type="datetime-local"
              params={params}
              fromQuery={toLocalInput}
            />
            <FilterField
              id="audit-until"
              name="until"
              label={intl.formatMessage({ id: 'audit.until' })}
              type="datetime-local"
              params={params}
              fromQuery={toLocalInput}
            />
          </>
        );
      }}
    </FilterForm>
  );
}
