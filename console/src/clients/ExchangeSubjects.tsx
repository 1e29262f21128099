import { useIntl } from 'react-intl';

/** A grant's `exchange` as the console shows and edits it: whom the client may act for at that service. */
export type Exchange = { subjects: string[] };

/** "vendor-a, issuer:corp, *" → the subjects; none: no exchange. */
export function exchangeFromText(text: string): Exchange | undefined {
  const subjects = [...new Set(text.split(/[\s,]+/).filter((subject) => subject !== ''))];
  return subjects.length === 0 ? undefined : { subjects };
}

export function exchangeText(exchange: Exchange | undefined): string {
  return exchange?.subjects.join(', ') ?? '';
}

/** The picker's field for the grant's exchange subjects. */
export function ExchangeSubjectsField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
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
    </>
  );
}

/** ", acting for …" after a grant's scopes, when it has an exchange. */
export function ExchangeNote({ exchange }: { exchange: Exchange | undefined }) {
  const intl = useIntl();
  if (exchange === undefined) return null;
  return <>{intl.formatMessage({ id: 'exchange.note' }, { subjects: exchange.subjects.join(', ') })}</>;
}
