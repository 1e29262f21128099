/** The console's languages: English is the source, the others translate every message of it. */
export const LANGUAGES = ['en', 'nl', 'fr', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Each language in itself, as the switch offers it (a person looks for their own language's name). */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', nl: 'Nederlands', fr: 'Français', de: 'Deutsch' };

/** Where the choice made with the switch is remembered (this browser only). */
export const LANGUAGE_STORAGE_KEY = 'portier.console.language';

function isLanguage(value: string | null | undefined): value is Language {
  return value !== null && value !== undefined && (LANGUAGES as readonly string[]).includes(value);
}

/**
 * The language to show: the one chosen before (remembered), else the first of the browser's
 * (navigator.languages, in the person's order) that the console has, by its primary subtag
 * (de-AT is German), else English.
 */
export function pickLanguage(remembered: string | null, preferred: readonly string[]): Language {
  if (isLanguage(remembered)) return remembered;
  for (const tag of preferred) {
    const primary = tag.toLowerCase().split('-')[0];
    if (isLanguage(primary)) return primary;
  }
  return 'en';
}
