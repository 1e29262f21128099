import { type IntlShape, useIntl } from 'react-intl';
import type { TrustedIssuer } from '../api';
import type { MessageId } from '../i18n/messages';
import { Link } from '../router';
import { Time } from '../ui/Time';

function keysOf(issuer: TrustedIssuer, intl: IntlShape): string {
  if (issuer.jwks_uri !== null) return intl.formatMessage({ id: 'issuers.keysUrl' });
  if (issuer.jwks !== null) return intl.formatMessage({ id: 'issuers.keysPasted' }, { count: issuer.jwks.keys.length });
  return intl.formatMessage({ id: 'issuers.keysDiscovery' });
}

/** The trusted issuers, each linking to its screen. */
export function TrustedIssuersTable({ issuers }: { issuers: TrustedIssuer[] }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const [id, issuerLabel, keys, oldest, updated] = [
    say('service.id'),
    say('issuer.issuer'),
    say('issuer.keys'),
    say('issuer.oldestToken'),
    say('summary.updated'),
  ];
  return (
    <table className="issuers">
      <thead>
        <tr>
          <th scope="col">{id}</th>
          <th scope="col">{issuerLabel}</th>
          <th scope="col">{keys}</th>
          <th scope="col">{oldest}</th>
          <th scope="col">{updated}</th>
        </tr>
      </thead>
      <tbody>
        {issuers.map((issuer) => (
          <tr key={issuer.id}>
            <td data-label={id}>
              <Link to={`/trusted-issuers/${encodeURIComponent(issuer.id)}`}>{issuer.id}</Link>
              {issuer.managed ? ` ${say('clients.managed')}` : ''}
            </td>
            <td data-label={issuerLabel}>
              <code>{issuer.issuer}</code>
            </td>
            <td data-label={keys}>{keysOf(issuer, intl)}</td>
            <td data-label={oldest}>{intl.formatMessage({ id: 'common.seconds' }, { seconds: issuer.max_token_age })}</td>
            <td data-label={updated}>
              <Time iso={issuer.updated_at} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
