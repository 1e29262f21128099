import { useIntl } from 'react-intl';
import { listUrl } from '../format';
import { Link, useRouter } from '../router';

/** The columns the clients list sorts by (the admin API's `sort=`). */
export type SortField = 'name' | 'owner' | 'created_at' | 'last_used_at' | 'expires_at';

/**
 * A column heading that sorts the list by its column: ascending first, then descending;
 * the sort is in the query string (so that Back and a shared link keep it), and a new sort
 * starts at the first page.
 */
export function SortHeader({ field, label }: { field: SortField; label: string }) {
  const intl = useIntl();
  const { location } = useRouter();
  const sort = location.search.get('sort');
  const direction = sort === field ? 'ascending' : sort === `-${field}` ? 'descending' : 'none';
  const params = new URLSearchParams(location.search);
  params.delete('cursor');
  params.set('sort', direction === 'ascending' ? `-${field}` : field);
  return (
    <th scope="col" aria-sort={direction}>
      <Link to={listUrl(location.path, params)} className="sort">
        {label}
        <span aria-hidden="true">{direction === 'ascending' ? ' ▲' : direction === 'descending' ? ' ▼' : ''}</span>
        <span className="visually-hidden">
          {' '}
          {intl.formatMessage({ id: direction === 'ascending' ? 'clients.sortDescending' : 'clients.sortAscending' })}
        </span>
      </Link>
    </th>
  );
}
