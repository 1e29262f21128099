import { useIntl } from 'react-intl';
import { useLanguage } from './I18n';
import { LANGUAGE_NAMES, LANGUAGES, type Language } from './languages';

/** The language switch of the header and the sign-in page: each language named in itself. */
export function LanguageSwitch() {
  const intl = useIntl();
  const { language, setLanguage } = useLanguage();
  return (
    <label className="language">
      <span className="visually-hidden">{intl.formatMessage({ id: 'language.label' })}</span>
      <select value={language} onChange={(event) => setLanguage(event.target.value as Language)}>
        {LANGUAGES.map((code) => (
          <option key={code} value={code} lang={code}>
            {LANGUAGE_NAMES[code]}
          </option>
        ))}
      </select>
    </label>
  );
}
