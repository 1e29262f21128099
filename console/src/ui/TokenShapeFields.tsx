import { claimsText } from '../format';
import { fieldErrorViews } from './fieldErrorViews';

/**
 * The token lifetime and custom claims of a client or a service (read back by format's
 * readTokenShape). The claims are edited as JSON; the form says what is wrong with it
 * before anything is sent, and shows what the server refuses (reserved names, size).
 */
export function TokenShapeFields({
  idPrefix,
  errorPrefix,
  ttl,
  claims,
  inherit,
  errors,
}: {
  idPrefix: string;
  errorPrefix: string;
  ttl: number | null;
  claims: Record<string, unknown>;
  /** What an empty lifetime means for this resource. */
  inherit: string;
  errors: Record<string, string[]>;
}) {
  const { aria, error } = fieldErrorViews(errors, errorPrefix);
  return (
    <fieldset>
      <legend>Tokens</legend>
      <label htmlFor={`${idPrefix}-ttl`}>Lifetime in seconds (60–86400; empty: {inherit})</label>
      <input id={`${idPrefix}-ttl`} name="access_token_ttl" inputMode="numeric" defaultValue={ttl ?? ''} {...aria('access_token_ttl')} />
      {error('access_token_ttl')}
      <label htmlFor={`${idPrefix}-claims`}>Custom claims (a JSON object of at most 2 KB; empty: none)</label>
      <textarea
        id={`${idPrefix}-claims`}
        name="claims"
        rows={5}
        className="code"
        spellCheck={false}
        placeholder='{"tenant": "acme"}'
        defaultValue={claimsText(claims)}
        {...aria('claims')}
      />
      {error('claims')}
    </fieldset>
  );
}
