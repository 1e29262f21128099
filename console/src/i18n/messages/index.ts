import type { Language } from '../languages.js';
import { de } from './de.js';
import { en, type MessageId } from './en.js';
import { fr } from './fr.js';
import { nl } from './nl.js';

/**
 * One catalogue per language, flat objects of ICU messages keyed by id. English is the
 * source: every other catalogue is a Record of its ids, so a missing or extra id is a type
 * error, and test/console/i18n.test.ts checks placeholders, plurals and unused ids.
 */
export const catalogues: Record<Language, Record<MessageId, string>> = { en, nl, fr, de };
export type { MessageId };

// react-intl's formatMessage({ id }) and <FormattedMessage id> take only these ids.
declare global {
  namespace FormatjsIntl {
    interface Message {
      ids: MessageId;
    }
  }
}
