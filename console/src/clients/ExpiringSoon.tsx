import { useEffect, useState } from 'react';
import { useIntl } from 'react-intl';
import type { Api, Client, Credential } from '../api';
import { DAY_MS } from '../format';
import { Link } from '../router';
import { Time } from '../ui/Time';
import { ExpiryBadge, SOON_DAYS } from './ExpiryBadge';

/** How many clients the box looks at: enough for a glance; the link shows them all. */
const SHOWN = 10;

/** Something that expires soon: a client itself, or one of its credentials. */
interface Expiring {
  client: Client;
  credential: Credential | null;
  expiresAt: string;
}

/** What of `client` expires between `now` and `before`: the client, and each live credential, soonest first. */
export function expiringOf(client: Client, credentials: readonly Credential[], now: number, before: number): Expiring[] {
  const within = (iso: string | null): iso is string => iso !== null && Date.parse(iso) > now && Date.parse(iso) < before;
  const found: Expiring[] = [];
  if (within(client.expires_at)) found.push({ client, credential: null, expiresAt: client.expires_at });
  for (const credential of credentials) {
    if (credential.status === 'active' && within(credential.expires_at))
      found.push({ client, credential, expiresAt: credential.expires_at });
  }
  return found.sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt));
}

/**
 * At the top of the clients list (and of an operator's "My clients", which the API limits to
 * theirs): what expires within SOON_DAYS days, the clients themselves and their credentials,
 * soonest first, each with its date; nothing when nothing does. `reload`: fetch again.
 */
export function ExpiringSoon({ api, reload }: { api: Api; reload: number }) {
  const intl = useIntl();
  const [items, setItems] = useState<Expiring[] | null>(null);
  const [more, setMore] = useState(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `reload` asks for them again
  useEffect(() => {
    let current = true;
    const now = Date.now();
    const before = now + SOON_DAYS * DAY_MS;
    const find = async () => {
      const { data } = await api.GET('/admin/clients', {
        params: { query: { expiring_before: new Date(before).toISOString(), limit: SHOWN } },
      });
      if (data === undefined) return;
      const found = await Promise.all(
        data.items.map(async (client) => {
          const listed = await api.GET('/admin/clients/{client_id}/credentials', { params: { path: { client_id: client.client_id } } });
          return expiringOf(client, listed.data?.credentials ?? [], now, before);
        }),
      );
      if (!current) return;
      setItems(found.flat().sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt)));
      setMore(data.next_cursor !== null);
    };
    // The list below stands without it: a failure here shows nothing rather than an error.
    find().catch(() => undefined);
    return () => {
      current = false;
    };
  }, [api, reload]);

  if (items === null || items.length === 0) return null;
  return (
    <section className="expiring-soon panel" aria-labelledby="expiring-heading">
      <h2 id="expiring-heading">{intl.formatMessage({ id: 'expiring.heading' }, { days: SOON_DAYS })}</h2>
      <ul className="plain">
        {items.map(({ client, credential, expiresAt }) => (
          <li key={`${client.client_id} ${credential?.id ?? ''}`}>
            <Link to={`/clients/${encodeURIComponent(client.client_id)}`}>{client.name}</Link>
            {': '}
            {credential === null
              ? intl.formatMessage({ id: 'expiring.client' })
              : intl.formatMessage(
                  { id: credential.kind === 'secret' ? 'expiring.secret' : 'expiring.key' },
                  { id: credential.id, description: credential.description },
                )}{' '}
            <Time iso={expiresAt} withZone /> <ExpiryBadge iso={expiresAt} />
          </li>
        ))}
      </ul>
      <p>
        <Link to={`/clients?expires_within=${SOON_DAYS}`}>{intl.formatMessage({ id: more ? 'expiring.showMore' : 'expiring.show' })}</Link>
      </p>
    </section>
  );
}
