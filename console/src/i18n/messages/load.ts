import type { Language } from '../languages.js';
import { en, type MessageId } from './en.js';

export type Catalogue = Record<MessageId, string>;

/**
 * A language's catalogue. English, the source and the fallback, is part of the console's
 * script; the others are fetched when a person needs one (each is its own chunk of the
 * build), so nobody downloads three languages they do not read.
 */
export async function loadCatalogue(language: Language): Promise<Catalogue> {
  switch (language) {
    case 'en':
      return en;
    case 'nl':
      return (await import('./nl.js')).nl;
    case 'fr':
      return (await import('./fr.js')).fr;
    case 'de':
      return (await import('./de.js')).de;
  }
}

export { en };
