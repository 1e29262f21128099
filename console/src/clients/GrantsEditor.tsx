import { type ReactNode, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Service } from '../api';
import { ExchangeNote, ExchangeSubjectsField } from './ExchangeSubjects';
import { actorsText, exchangeFromText, exchangeText, type Grant } from './grants';

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
  const [pickActors, setPickActors] = useState('');
  const picked = services.find((service) => service.id === pickService);
  const intl = useIntl();

  const addGrant = () => {
    if (picked === undefined) return;
    const exchange = exchangeFromText(pickExchange, pickActors);
    onChange([
      ...grants.filter((grant) => grant.service !== picked.id),
      { service: picked.id, scopes: [...pickScopes], ...(exchange !== undefined && { exchange }) },
    ]);
    setPickService('');
    setPickScopes(new Set());
    setPickExchange('');
    setPickActors('');
  };

  return (
    <fieldset className="grants" aria-describedby={describedBy}>
      <legend>{intl.formatMessage({ id: 'grants.legend' })}</legend>
      {grants.length === 0 ? (
        <p className="muted">{intl.formatMessage({ id: 'grants.none' })}</p>
      ) : (
        <ul>
          {grants.map((grant) => (
            <li key={grant.service}>
              <code>{grant.service}</code>: {grant.scopes.join(' ') || intl.formatMessage({ id: 'grants.noScopes' })}
              <ExchangeNote exchange={grant.exchange} />{' '}
              <button
                type="button"
                className="link"
                onClick={() => onChange(grants.filter((g) => g.service !== grant.service))}
                aria-label={intl.formatMessage({ id: 'grants.removeOf' }, { service: grant.service })}
              >
                {intl.formatMessage({ id: 'common.remove' })}
              </button>
            </li>
          ))}
        </ul>
      )}
      <label htmlFor="grant-service">{intl.formatMessage({ id: 'client.service' })}</label>
      <select
        id="grant-service"
        name="grant_service"
        value={pickService}
        onChange={(event) => {
          setPickService(event.target.value);
          const existing = grants.find((grant) => grant.service === event.target.value);
          setPickScopes(new Set(existing?.scopes ?? []));
          setPickExchange(exchangeText(existing?.exchange));
          setPickActors(actorsText(existing?.exchange));
        }}
      >
        <option value="">{intl.formatMessage({ id: 'grants.choose' })}</option>
        {services.map((service) => (
          <option key={service.id} value={service.id}>
            {service.name} ({service.id})
          </option>
        ))}
      </select>
      {picked !== undefined && (
        <fieldset className="scopes">
          <legend>{intl.formatMessage({ id: 'grants.scopesOf' }, { service: picked.name })}</legend>
          {picked.scopes.length === 0 && <p className="muted">{intl.formatMessage({ id: 'grants.noScopesOffered' })}</p>}
          {picked.scopes.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                name="grant_scope"
                value={scope}
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
      {picked !== undefined && (
        <ExchangeSubjectsField value={pickExchange} onChange={setPickExchange} actors={pickActors} onActorsChange={setPickActors} />
      )}
      <button type="button" className="secondary" disabled={picked === undefined} onClick={addGrant}>
        {intl.formatMessage({
          id: picked !== undefined && grants.some((grant) => grant.service === picked.id) ? 'grants.replace' : 'grants.add',
        })}
      </button>
      {picked !== undefined && <p className="muted">{intl.formatMessage({ id: 'grants.addedOnSubmit' })}</p>}
      {error}
    </fieldset>
  );
}
