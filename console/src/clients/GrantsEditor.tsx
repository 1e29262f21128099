import { type ReactNode, useState } from 'react';
import type { Service } from '../api';
import { type Exchange, ExchangeNote, ExchangeSubjectsField, exchangeFromText, exchangeText } from './ExchangeSubjects';

export type Grant = { service: string; scopes: string[]; exchange?: Exchange };

/** A client's grants: the list, and a service picker whose scopes are ticked before "Add grant". */
export function GrantsEditor({
  services,
  grants,
  onChange,
  error,
  describedBy,
}: {
  services: Service[];
  grants: Grant[];
  onChange: (grants: Grant[]) => void;
  error: ReactNode;
  describedBy: string | undefined;
}) {
  const [pickService, setPickService] = useState('');
  const [pickScopes, setPickScopes] = useState<Set<string>>(new Set());
  const [pickExchange, setPickExchange] = useState('');
  const picked = services.find((service) => service.id === pickService);

  const addGrant = () => {
    if (picked === undefined) return;
    const exchange = exchangeFromText(pickExchange);
    onChange([
      ...grants.filter((grant) => grant.service !== picked.id),
      { service: picked.id, scopes: [...pickScopes], ...(exchange !== undefined && { exchange }) },
    ]);
    setPickService('');
    setPickScopes(new Set());
    setPickExchange('');
  };

  return (
    <fieldset className="grants" aria-describedby={describedBy}>
      <legend>Grants</legend>
      {grants.length === 0 ? (
        <p className="muted">No services granted.</p>
      ) : (
        <ul>
          {grants.map((grant) => (
            <li key={grant.service}>
              <code>{grant.service}</code>: {grant.scopes.join(' ') || '(no scopes)'}
              <ExchangeNote exchange={grant.exchange} />{' '}
              <button
                type="button"
                className="link"
                onClick={() => onChange(grants.filter((g) => g.service !== grant.service))}
                aria-label={`Remove grant of ${grant.service}`}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <label htmlFor="grant-service">Service</label>
      <select
        id="grant-service"
        value={pickService}
        onChange={(event) => {
          setPickService(event.target.value);
          const existing = grants.find((grant) => grant.service === event.target.value);
          setPickScopes(new Set(existing?.scopes ?? []));
          setPickExchange(exchangeText(existing?.exchange));
        }}
      >
        <option value="">Choose a service</option>
        {services.map((service) => (
          <option key={service.id} value={service.id}>
            {service.name} ({service.id})
          </option>
        ))}
      </select>
      {picked !== undefined && (
        <fieldset className="scopes">
          <legend>Scopes of {picked.name}</legend>
          {picked.scopes.length === 0 && <p className="muted">This service has no scopes.</p>}
          {picked.scopes.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={pickScopes.has(scope)}
                onChange={() => {
                  const next = new Set(pickScopes);
                  if (next.has(scope)) next.delete(scope);
                  else next.add(scope);
                  setPickScopes(next);
                }}
              />
              {scope}
            </label>
          ))}
        </fieldset>
      )}
      {picked !== undefined && <ExchangeSubjectsField value={pickExchange} onChange={setPickExchange} />}
      <button type="button" className="secondary" disabled={picked === undefined} onClick={addGrant}>
        {picked !== undefined && grants.some((grant) => grant.service === picked.id) ? 'Replace grant' : 'Add grant'}
      </button>
      {error}
    </fieldset>
  );
}
