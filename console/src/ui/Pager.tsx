import { pageUrl } from '../format';
import { Link, useRouter } from '../router';

/** A list screen's paging: back to the first page once past it, and on to the next page while there is one. */
export function Pager({ path, next }: { path: string; next: string | null }) {
  const { location } = useRouter();
  const search = location.search.toString();
  return (
    <nav className="pager" aria-label="Pages">
      {location.search.has('cursor') && <Link to={pageUrl(path, search, null)}>First page</Link>}
      {next !== null && <Link to={pageUrl(path, search, next)}>Next page</Link>}
    </nav>
  );
}
