import { useIntl } from 'react-intl';
import type { MessageId } from '../i18n/messages';
import type { Exchange } from './grants';

/** One of the exchange's text fields, with its hint under it. */
function ExchangeField({
  id,
  name,
  messages,
  value,
  onChange,
}: {
  id: string;
  name: string;
  messages: { label: MessageId; placeholder: MessageId; hint: MessageId };
  value: string;
  onChange: (value: string) => void;
}) {
  const intl = useIntl();
  return (
    <>
      <label htmlFor={id}>{intl.formatMessage({ id: messages.label })}</label>
      <input
        id={id}
        name={name}
        value={value}
        placeholder={intl.formatMessage({ id: messages.placeholder })}
        aria-describedby={`${id}-hint`}
        onChange={(event) => onChange(event.target.value)}
      />
      <p id={`${id}-hint`} className="muted">
        {intl.formatMessage({ id: messages.hint })}
      </p>
    </>
  );
}

/** The picker's fields for the grant's exchange: its subjects, and its actors (grants.ts reads them by name). */
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
  return (
    <>
      <ExchangeField
        id="grant-exchange"
        name="grant_exchange"
        messages={{ label: 'exchange.label', placeholder: 'exchange.placeholder', hint: 'exchange.hint' }}
        value={value}
        onChange={onChange}
      />
      <ExchangeField
        id="grant-exchange-actors"
        name="grant_exchange_actors"
        messages={{ label: 'exchange.actorsLabel', placeholder: 'exchange.actorsPlaceholder', hint: 'exchange.actorsHint' }}
        value={actors}
        onChange={onActorsChange}
      />
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
