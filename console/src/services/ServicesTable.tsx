import type { Service } from '../api';
import { exactTime } from '../format';
import { Link } from '../router';

/** The service catalogue, each service linking to its screen. */
export function ServicesTable({ services }: { services: Service[] }) {
  return (
    <table className="services">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">ID</th>
          <th scope="col">Audience</th>
          <th scope="col">Scopes</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {services.map((service) => (
          <tr key={service.id}>
            <td data-label="Name">
              <Link to={`/services/${encodeURIComponent(service.id)}`}>{service.name}</Link>
              {service.built_in ? ' (built in)' : ''}
              {service.managed ? ' (managed by configuration)' : ''}
              {service.self_service ? ' (self-service)' : ''}
            </td>
            <td data-label="ID">
              <code>{service.id}</code>
            </td>
            <td data-label="Audience">
              <code>{service.audience}</code>
            </td>
            <td data-label="Scopes">{service.scopes.join(' ') || '—'}</td>
            <td data-label="Updated">
              <time dateTime={service.updated_at}>{exactTime(service.updated_at)}</time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
