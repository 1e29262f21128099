import { useIntl } from 'react-intl';
import type { Service } from '../api';
import type { MessageId } from '../i18n/messages';
import { Link } from '../router';
import { Time } from '../ui/Time';

/** The service catalogue, each service linking to its screen. */
export function ServicesTable({ services }: { services: Service[] }) {
  const intl = useIntl();
  const say = (id: MessageId) => intl.formatMessage({ id });
  const [name, id, audience, scopes, updated] = [
    say('client.name'),
    say('service.id'),
    say('service.audience'),
    say('service.scopes'),
    say('summary.updated'),
  ];
  return (
    <table className="services">
      <thead>
        <tr>
          <th scope="col">{name}</th>
          <th scope="col">{id}</th>
          <th scope="col">{audience}</th>
          <th scope="col">{scopes}</th>
          <th scope="col">{updated}</th>
        </tr>
      </thead>
      <tbody>
        {services.map((service) => (
          <tr key={service.id}>
            <td data-label={name}>
              <Link to={`/services/${encodeURIComponent(service.id)}`}>{service.name}</Link>
              {service.built_in ? ` ${say('services.builtIn')}` : ''}
              {service.managed ? ` ${say('clients.managed')}` : ''}
              {service.self_service ? ` ${say('services.selfServiceMark')}` : ''}
            </td>
            <td data-label={id}>
              <code>{service.id}</code>
            </td>
            <td data-label={audience}>
              <code>{service.audience}</code>
            </td>
            <td data-label={scopes}>{service.scopes.join(' ') || '—'}</td>
            <td data-label={updated}>
              <Time iso={service.updated_at} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
