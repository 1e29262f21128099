import type { FormEvent, ReactNode } from 'react';
import { useIntl } from 'react-intl';
import { formText, listUrl } from '../format';
import { useRouter } from '../router';

/**
 * A list screen's filters, read from and written to the query string (so that Back
 * returns to the previous filters): on Apply, the list at `path` with the fields `names`
 * that are not empty, each as `readValue` reads it (its trimmed text, unless said otherwise).
 * `children` are the fields, given the query string for their current values.
 */
export function FilterForm({
  label,
  path,
  names,
  readValue = formText,
  children,
}: {
  label: string;
  path: string;
  names: readonly string[];
  readValue?: (form: FormData, name: string) => string;
  children: (params: URLSearchParams) => ReactNode;
}) {
  const { location, navigate } = useRouter();
  const params = location.search;
  const intl = useIntl();

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const chosen = new URLSearchParams();
    for (const name of names) {
      const value = readValue(form, name);
      if (value !== '') chosen.set(name, value);
    }
    navigate(listUrl(path, chosen));
  };

  return (
    <form className="filters" onSubmit={apply} key={params.toString()} aria-label={label}>
      {children(params)}
      <div className="field actions">
        <button type="submit">{intl.formatMessage({ id: 'filters.apply' })}</button>
      </div>
    </form>
  );
}

/** One filter: a labelled field whose value starts as the query string's. */
export function FilterField({
  id,
  name,
  label,
  params,
  type,
  placeholder,
  fromQuery = (value) => value ?? '',
}: {
  id: string;
  name: string;
  label: string;
  params: URLSearchParams;
  type?: string;
  placeholder?: string;
  /** The field's value for the query string's (absent: null); by default, the same. */
  fromQuery?: (value: string | null) => string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} name={name} type={type} placeholder={placeholder} defaultValue={fromQuery(params.get(name))} />
    </div>
  );
}
