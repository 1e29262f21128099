import { useIntl } from 'react-intl';
import type { Client, TokenQuota } from '../api';
import { managedText, quotaText } from '../format';
import type { MessageId } from '../i18n/messages';
import { type DetailRow, DetailsList } from '../ui/DetailsList';
import { Time as ShownTime } from '../ui/Time';
import { certificateRows } from './CertificateDetails';
import { ExchangeNote } from './ExchangeSubjects';
import { authMethodLabel } from './federated-identities';

/** A time of the client, in the person's language and zone (UTC on hover), and relative to now; `none` when there is none. */
function Time({ iso, none = 'client.neverExpires', withZone = false }: { iso: string | null; none?: MessageId; withZone?: boolean }) {
  const intl = useIntl();
  if (iso === null) return <>{intl.formatMessage({ id: none })}</>;
  return <ShownTime iso={iso} show="both" withZone={withZone} />;
}

function Grants({ grants }: { grants: Client['grants'] }) {
  if (grants.length === 0) return <>none</>;
  return (
    <ul className="plain">
      {grants.map((grant) => (
        <li key={grant.service}>
          <code>{grant.service}</code>: {grant.scopes.join(' ') || '(no scopes)'}
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

function Quota({ quota }: { quota: TokenQuota | null }) {
  return <>{quotaText(quota)}</>;
}

/** Every field of a client, as a list of labels and values. */
export function ClientSummary({ client }: { client: Client }) {
  const rows: DetailRow[] = [
    ['Client ID', <code key="id">{client.client_id}</code>],
    ['Name', client.name],
    ['Description', client.description || '—'],
    ['Owner', client.owner],
    [
      'Status',
      <span key="status" className={`status status-${client.status}`}>
        {client.status}
      </span>,
    ],
    ['Enabled', client.enabled ? 'yes' : 'no'],
    ['Managed', managedText(client.managed)],
    ['Grants', <Grants key="grants" grants={client.grants} />],
    ['IP ranges', client.ip_ranges.join(', ') || 'anywhere'],
    ['Roles', client.roles.join(', ') || '—'],
    ['First name', client.first_name ?? '—'],
    ['Last name', client.last_name ?? '—'],
    ['Service account', `${client.service_account.username} (${client.service_account.id})`],
    ['Token lifetime', client.access_token_ttl === null ? "its services' (or the server's)" : `${client.access_token_ttl} s`],
    [
      'Custom claims',
      Object.keys(client.claims).length === 0 ? (
        '—'
      ) : (
        <pre key="claims" className="details-json">
          {JSON.stringify(client.claims, null, 2)}
        </pre>
      ),
    ],
    ['Token quota', <Quota key="quota" quota={client.token_quota} />],
    ['Authentication', authMethodLabel(client.auth_method)],
    ...(client.auth_method === 'federated'
      ? [['Platform identities', <Identities key="identities" identities={client.federated_identities} />] as const]
      : []),
    ...certificateRows(client),
    ['Expires', <Time key="expires" iso={client.expires_at} withZone />],
    ['Last used', <Time key="last" iso={client.last_used_at} none="client.notYetUsed" />],
    ...(client.last_used_identity === null
      ? []
      : [
          [
            'Last used by',
            <span key="identity">
              <code>{client.last_used_identity.issuer}</code>: <code>{client.last_used_identity.subject}</code>
            </span>,
          ] as const,
        ]),
    ['Created', <Time key="created" iso={client.created_at} />],
    ['Created by', client.created_by_name ?? client.created_by],
    ['Updated', <Time key="updated" iso={client.updated_at} />],
  ];
  return <DetailsList rows={rows} />;
}
