import { type IntlShape, useIntl } from 'react-intl';
import type { Client } from '../api';
import { quotaText } from '../format';
import type { MessageId } from '../i18n/messages';
import { type DetailRow, DetailsList } from '../ui/DetailsList';
import { managedMessage } from '../ui/managed';
import { Time as ShownTime } from '../ui/Time';
import { certificateRows } from './CertificateDetails';
import { STATUS_NAMES } from './ClientsTable';
import { ExchangeNote } from './ExchangeSubjects';
import { authMethodMessage } from './federated-identities';

/** A time of the client, in the person's language and zone (UTC on hover), and relative to now; `none` when there is none. */
function Time({ iso, none = 'client.neverExpires', withZone = false }: { iso: string | null; none?: MessageId; withZone?: boolean }) {
  const intl = useIntl();
  if (iso === null) return <>{intl.formatMessage({ id: none })}</>;
  return <ShownTime iso={iso} show="both" withZone={withZone} />;
}

function Grants({ grants }: { grants: Client['grants'] }) {
  const intl = useIntl();
  if (grants.length === 0) return <>{intl.formatMessage({ id: 'common.none' })}</>;
  return (
    <ul className="plain">
      {grants.map((grant) => (
        <li key={grant.service}>
          <code>{grant.service}</code>: {grant.scopes.join(' ') || intl.formatMessage({ id: 'grants.noScopes' })}
          <ExchangeNote exchange={grant.exchange} />
        </li>
      ))}
    </ul>
  );
}

function Identities({ identities }: { identities: Client['federated_identities'] }) {
  return (
    <ul className="plain">
      {identities.map((identity) => (
        <li key={`${identity.issuer} ${identity.subject}`}>
          <code>{identity.issuer}</code>: <code>{identity.subject}</code>
          {Object.entries(identity.claims).map(([name, value]) => (
            <span key={name}>
              , <code>{name}</code> = <code>{String(value)}</code>
            </span>
          ))}
        </li>
      ))}
    </ul>
  );
}

/** The rows about who the client is and what it may do. */
function identityRowsOf(client: Client, intl: IntlShape): DetailRow[] {
  const say = (id: MessageId) => intl.formatMessage({ id });
  return [
    [say('client.clientId'), <code key="id">{client.client_id}</code>],
    [say('client.name'), client.name],
    [say('client.description'), client.description || '—'],
    [say('client.owner'), client.owner],
    [
      say('client.status'),
      <span key="status" className={`status status-${client.status}`}>
        {say(STATUS_NAMES[client.status])}
      </span>,
    ],
    [say('clients.enabled'), say(client.enabled ? 'common.yes' : 'common.no')],
    [say('summary.managed'), say(managedMessage(client.managed))],
    [say('grants.legend'), <Grants key="grants" grants={client.grants} />],
    [say('summary.ipRanges'), client.ip_ranges.join(', ') || say('summary.anywhere')],
    [say('summary.roles'), client.roles.join(', ') || '—'],
    [say('summary.firstName'), client.first_name ?? '—'],
    [say('summary.lastName'), client.last_name ?? '—'],
    [say('summary.serviceAccount'), `${client.service_account.username} (${client.service_account.id})`],
  ];
}

/** Every field of a client, as a list of labels and values. */
export function ClientSummary({ client }: { client: Client }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const rows: DetailRow[] = [
    ...identityRowsOf(client, intl),
    [
      say('summary.tokenLifetime'),
      client.access_token_ttl === null
        ? say('summary.lifetimeInherited')
        : intl.formatMessage({ id: 'common.seconds' }, { seconds: client.access_token_ttl }),
    ],
    [
      say('summary.customClaims'),
      Object.keys(client.claims).length === 0 ? (
        '—'
      ) : (
        <pre key="claims" className="details-json">
          {JSON.stringify(client.claims, null, 2)}
        </pre>
      ),
    ],
    [say('summary.tokenQuota'), quotaText(client.token_quota, intl)],
    [say('summary.authentication'), say(authMethodMessage(client.auth_method))],
    ...(client.auth_method === 'federated'
      ? [[say('summary.platformIdentities'), <Identities key="identities" identities={client.federated_identities} />] as const]
      : []),
    ...certificateRows(client, intl),
    [say('client.expires'), <Time key="expires" iso={client.expires_at} withZone />],
    [say('client.lastUsed'), <Time key="last" iso={client.last_used_at} none="client.notYetUsed" />],
    ...(client.last_used_identity === null
      ? []
      : [
          [
            say('summary.lastUsedBy'),
            <span key="identity">
              <code>{client.last_used_identity.issuer}</code>: <code>{client.last_used_identity.subject}</code>
            </span>,
          ] as const,
        ]),
    [say('client.created'), <Time key="created" iso={client.created_at} />],
    [say('summary.createdBy'), client.created_by_name ?? client.created_by],
    [say('summary.updated'), <Time key="updated" iso={client.updated_at} />],
  ];
  return <DetailsList rows={rows} />;
}
