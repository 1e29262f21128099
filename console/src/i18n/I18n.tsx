import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { IntlProvider } from 'react-intl';
import { LANGUAGE_STORAGE_KEY, type Language, pickLanguage } from './languages';
import { type Catalogue, en, loadCatalogue } from './messages/load';

interface LanguageChoice {
  language: Language;
  setLanguage: (language: Language) => void;
}

const LanguageContext = createContext<LanguageChoice>({ language: 'en', setLanguage: () => undefined });

/** The language shown and the way to change it (the header's switch). */
export function useLanguage(): LanguageChoice {
  return useContext(LanguageContext);
}

function remembered(): string | null {
  try {
    return window.localStorage.getItem(LANGUAGE_STORAGE_KEY);
  } catch {
    return null; // storage refused (privacy settings): the browser's languages decide
  }
}

/**
 * The console in the person's language: react-intl's provider with that language's
 * catalogue, `<html lang>` kept in step (screen readers pronounce by it), and a change
 * remembered in local storage. Components read messages with useIntl().formatMessage({ id })
 * or <FormattedMessage id=… />; the ids are typed (messages/index.ts).
 */
export function I18n({ children }: { children: ReactNode }) {
  const [language, setChosen] = useState<Language>(() => pickLanguage(remembered(), navigator.languages ?? [navigator.language]));

  const setLanguage = useCallback((next: Language) => {
    setChosen(next);
    try {
      window.localStorage.setItem(LANGUAGE_STORAGE_KEY, next);
    } catch {
      // not remembered; shown all the same
    }
  }, []);

  // What is shown: a language with its catalogue, swapped together once a newly chosen
  // language's catalogue has arrived (never English words under a Dutch <html lang>).
  const [shown, setShown] = useState<{ language: Language; messages: Catalogue } | null>(() =>
    language === 'en' ? { language, messages: en } : null,
  );
  useEffect(() => {
    let current = true;
    loadCatalogue(language).then(
      (messages) => current && setShown({ language, messages }),
      () => current && setShown({ language: 'en', messages: en }), // the chunk could not be fetched: English
    );
    return () => {
      current = false;
    };
  }, [language]);

  useEffect(() => {
    if (shown !== null) document.documentElement.lang = shown.language;
  }, [shown]);

  const choice = useMemo(() => ({ language, setLanguage }), [language, setLanguage]);
  if (shown === null) return null; // the first catalogue is on its way (a few KB, once)
  return (
    <LanguageContext.Provider value={choice}>
      <IntlProvider locale={shown.language} defaultLocale="en" messages={shown.messages}>
        {children}
      </IntlProvider>
    </LanguageContext.Provider>
  );
}
