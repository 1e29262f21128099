import { useIntl } from 'react-intl';
import { pageUrl } from '../format';
import { Link, useRouter } from '../router';

/** A list screen's paging: back to the first page once past it, and on to the next page while there is one. */
export function Pager({ path, next }: { path: string; next: string | null }) {
  const { location } = useRouter();
  const search = location.search.toString();
  const intl = useIntl();
  return (
    <nav className="pager" aria-label={intl.formatMessage({ id: 'pager.label' })}>
      {location.search.has('cursor') && <Link to={pageUrl(path, search, null)}>{intl.formatMessage({ id: 'pager.first' })}</Link>}
      {next !== null && <Link to={pageUrl(path, search, next)}>{intl.formatMessage({ id: 'pager.next' })}</Link>}
    </nav>
  );
}
