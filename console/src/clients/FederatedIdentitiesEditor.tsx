import type { ReactNode } from 'react';
import { useIntl } from 'react-intl';
import type { TrustedIssuer } from '../api';
import type { IdentityRow } from './federated-identities';

/**
 * A federated client's platform identities: for each, the trusted issuer, the exact
 * subject of its tokens, and claims the token must carry as well (one `name=value` per
 * line; a name starting with "/" is a JSON Pointer into the token's claims).
 */
export function FederatedIdentitiesEditor({
  issuers,
  rows,
  onChange,
  error,
  describedBy,
}: {
  issuers: TrustedIssuer[];
  rows: IdentityRow[];
  onChange: (rows: IdentityRow[]) => void;
  error: ReactNode;
  describedBy: string | undefined;
}) {
  const intl = useIntl();
  const update = (index: number, change: Partial<IdentityRow>) =>
    onChange(rows.map((row, i) => (i === index ? { ...row, ...change } : row)));
  return (
    <fieldset className="identities" aria-describedby={describedBy}>
      <legend>{intl.formatMessage({ id: 'identities.legend' })}</legend>
      {issuers.length === 0 && <p className="muted">{intl.formatMessage({ id: 'identities.noIssuers' })}</p>}
      {rows.map((row, index) => {
        const n = index + 1;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity of their own while they are edited
          <div className="identity" key={index}>
            <label htmlFor={`identity-issuer-${n}`}>{intl.formatMessage({ id: 'identities.issuer' }, { n })}</label>
            <select id={`identity-issuer-${n}`} value={row.issuer} onChange={(event) => update(index, { issuer: event.target.value })}>
              <option value="">{intl.formatMessage({ id: 'identities.chooseIssuer' })}</option>
              {issuers.map((issuer) => (
                <option key={issuer.id} value={issuer.id}>
                  {issuer.id} ({issuer.issuer})
                </option>
              ))}
            </select>
            <label htmlFor={`identity-subject-${n}`}>{intl.formatMessage({ id: 'identities.subject' }, { n })}</label>
            <input
              id={`identity-subject-${n}`}
              value={row.subject}
              placeholder="system:serviceaccount:payments:reporter"
              onChange={(event) => update(index, { subject: event.target.value })}
            />
            <label htmlFor={`identity-claims-${n}`}>{intl.formatMessage({ id: 'identities.claims' }, { n })}</label>
            <textarea
              id={`identity-claims-${n}`}
              rows={2}
              value={row.claims}
              placeholder="repository_owner=acme"
              onChange={(event) => update(index, { claims: event.target.value })}
            />
            <button type="button" className="link" onClick={() => onChange(rows.filter((_, i) => i !== index))}>
              {intl.formatMessage({ id: 'identities.remove' }, { n })}
            </button>
          </div>
        );
      })}
      <button
        type="button"
        className="secondary"
        disabled={rows.length >= 10}
        onClick={() => onChange([...rows, { issuer: issuers[0]?.id ?? '', subject: '', claims: '' }])}
      >
        {intl.formatMessage({ id: 'identities.add' })}
      </button>
      {error}
    </fieldset>
  );
}
