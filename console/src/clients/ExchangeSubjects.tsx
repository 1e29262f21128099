import { useIntl } from 'react-intl';
import type { Exchange } from './grants';

/** The picker's fields for the grant's exchange: its subjects, and its actors. */
export function ExchangeSubjectsField({
  value,
  onChange,
  actors,
  onActorsChange,
}: {
  value: string;
  onChange: (value: string) => void;
  actors: string;
  onActorsChange: (value: string) => void;
}) {
  const intl = useIntl();
  return (
    <>
      <label htmlFor="grant-exchange">{intl.formatMessage({ id: 'exchange.label' })}</label>
      <input
        id="grant-exchange"
        name="grant_exchange"
        value={value}
        placeholder={intl.formatMessage({ id: 'exchange.placeholder' })}
        aria-describedby="grant-exchange-hint"
        onChange={(event) => onChange(event.target.value)}
      />
      <p id="grant-exchange-hint" className="muted">
        {intl.formatMessage({ id: 'exchange.hint' })}
      </p>
      <label htmlFor="grant-exchange-actors">{intl.formatMessage({ id: 'exchange.actorsLabel' })}</label>
      <input
        id="grant-exchange-actors"
        name="grant_exchange_actors"
        value={actors}
        placeholder={intl.formatMessage({ id: 'exchange.actorsPlaceholder' })}
        aria-describedby="grant-exchange-actors-hint"
        onChange={(event) => onActorsChange(event.target.value)}
      />
      <p id="grant-exchange-actors-hint" className="muted">
        {intl.formatMessage({ id: 'exchange.actorsHint' })}
      </p>
    </>
  );
}

/** "; may act for …" after a grant's scopes, when it has an exchange, and "; with the tokens of …" when it lists actors. */
export function ExchangeNote({ exchange }: { exchange: Exchange | undefined }) {
  const intl = useIntl();
  if (exchange === undefined) return null;
  const actors = exchange.actors ?? [];
  return (
    <>
      {intl.formatMessage({ id: 'exchange.note' }, { subjects: exchange.subjects.join(', ') })}
      {actors.length > 0 && intl.formatMessage({ id: 'exchange.actorsNote' }, { actors: actors.join(', ') })}
    </>
  );
}
