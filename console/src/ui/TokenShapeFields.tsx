import { useIntl } from 'react-intl';
import { claimsText } from '../format';
import { fieldErrorViews } from './fieldErrorViews';

/**
 * The token lifetime and custom claims of a client or a service (read back by format's
 * readTokenShape). The claims are edited as JSON; the form says what is wrong with it
 * before anything is sent, and shows what the server refuses (reserved names, size).
 *
 * `operator`: the form is an operator's (people with the operator role, on their own
 * client): the claims are an admin's and read-only, and so is the lifetime unless the
 * client's services offer one (`maxTtl`, the longest they allow).
 */
export function TokenShapeFields({
  idPrefix,
  errorPrefix,
  ttl,
  claims,
  inherit,
  errors,
  operator,
}: {
  idPrefix: string;
  errorPrefix: string;
  ttl: number | null;
  claims: Record<string, unknown>;
  /** What an empty lifetime means for this resource. */
  inherit: string;
  errors: Record<string, string[]>;
  operator?: { maxTtl: number | null };
}) {
  const intl = useIntl();
  const { aria, error } = fieldErrorViews(errors, errorPrefix);
  const ttlLocked = operator !== undefined && operator.maxTtl === null;
  const ttlLabel =
    operator === undefined
      ? intl.formatMessage({ id: 'tokens.ttl' }, { inherit })
      : operator.maxTtl === null
        ? intl.formatMessage({ id: 'tokens.ttlByAdmin' }, { inherit })
        : intl.formatMessage({ id: 'tokens.ttlChoose' }, { max: operator.maxTtl });
  return (
    <fieldset>
      <legend>{intl.formatMessage({ id: 'tokens.legend' })}</legend>
      <label htmlFor={`${idPrefix}-ttl`}>{ttlLabel}</label>
      <input
        id={`${idPrefix}-ttl`}
        name="access_token_ttl"
        inputMode="numeric"
        defaultValue={ttl ?? ''}
        readOnly={ttlLocked}
        {...aria('access_token_ttl')}
      />
      {error('access_token_ttl')}
      <label htmlFor={`${idPrefix}-claims`}>
        {intl.formatMessage({ id: operator === undefined ? 'tokens.claims' : 'tokens.claimsByAdmin' })}
      </label>
      <textarea
        id={`${idPrefix}-claims`}
        name="claims"
        rows={5}
        className="code"
        spellCheck={false}
        placeholder={operator === undefined ? '{"tenant": "acme"}' : undefined}
        defaultValue={claimsText(claims)}
        readOnly={operator !== undefined}
        {...aria('claims')}
      />
      {error('claims')}
    </fieldset>
  );
}
