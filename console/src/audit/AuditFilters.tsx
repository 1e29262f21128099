import type { FormEvent } from 'react';
import { formText, fromLocalInput, listUrl, toLocalInput } from '../format';
import { useRouter } from '../router';

const FILTERS = ['action', 'client_id', 'actor_client_id'] as const;
const TIMES = ['since', 'until'] as const;

/** The audit trail's filters, read from and written to the query string; times in local time on screen, ISO 8601 in the URL. */
export function AuditFilters() {
  const { location, navigate } = useRouter();
  const params = location.search;

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const chosen = new URLSearchParams();
    for (const name of FILTERS) {
      const value = formText(form, name);
      if (value !== '') chosen.set(name, value);
    }
    for (const name of TIMES) {
      const value = fromLocalInput(String(form.get(name) ?? ''));
      if (value !== '') chosen.set(name, value);
    }
    navigate(listUrl('/audit', chosen));
  };

  return (
    <form className="filters" onSubmit={apply} key={params.toString()} aria-label="Filter events">
      <div className="field">
        <label htmlFor="audit-action">Action</label>
        <input id="audit-action" name="action" placeholder="client.updated" defaultValue={params.get('action') ?? ''} />
      </div>
      <div className="field">
        <label htmlFor="audit-client">Client ID</label>
        <input id="audit-client" name="client_id" defaultValue={params.get('client_id') ?? ''} />
      </div>
      <div className="field">
        <label htmlFor="audit-actor">By (admin client ID)</label>
        <input id="audit-actor" name="actor_client_id" defaultValue={params.get('actor_client_id') ?? ''} />
      </div>
      <div className="field">
        <label htmlFor="audit-since">Since</label>
        <input id="audit-since" name="since" type="datetime-local" defaultValue={toLocalInput(params.get('since'))} />
      </div>
      <div className="field">
        <label htmlFor="audit-until">Until</label>
        <input id="audit-until" name="until" type="datetime-local" defaultValue={toLocalInput(params.get('until'))} />
      </div>
      <div className="field actions">
        <button type="submit">Apply filters</button>
      </div>
    </form>
  );
}
