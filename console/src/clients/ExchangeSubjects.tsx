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
  return (
    <>
      <label htmlFor="grant-exchange">May act for (token exchange)</label>
      <input
        id="grant-exchange"
        name="grant_exchange"
        value={value}
        placeholder="client_ids, issuer:<trusted issuer id>, or *"
        aria-describedby="grant-exchange-hint"
        onChange={(event) => onChange(event.target.value)}
      />
      <p id="grant-exchange-hint" className="muted">
        Whose tokens this client may exchange for tokens for this service, acting for them. Empty: none.
      </p>
    </>
  );
}

/** ", acting for …" after a grant's scopes, when it has an exchange. */
export function ExchangeNote({ exchange }: { exchange: Exchange | undefined }) {
  if (exchange === undefined) return null;
  return <>; may act for {exchange.subjects.join(', ')}</>;
}
