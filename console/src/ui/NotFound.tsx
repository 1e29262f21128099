import { useEffect } from 'react';
import { useIntl } from 'react-intl';
import { Link } from '../router';

/** What an unknown console URL shows, and a screen the person's role may not open: the same answer for both. */
export function NotFound() {
  const intl = useIntl();
  const heading = intl.formatMessage({ id: 'notFound.title' });
  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: heading });
  }, [heading, intl]);
  return (
    <section aria-labelledby="not-found-heading">
      <h1 id="not-found-heading">{heading}</h1>
      <p>{intl.formatMessage({ id: 'notFound.text' })}</p>
      <p>
        <Link to="/clients">{intl.formatMessage({ id: 'notFound.back' })}</Link>
      </p>
    </section>
  );
}
