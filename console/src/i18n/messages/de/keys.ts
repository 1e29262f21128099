import type { keys as english } from '../en/keys.js';

/** The signing keys screen. (German) */
export const keys: Record<keyof typeof english, string> = {
  'keys.intro': 'Die Schlüssel, die Zugriffstokens signieren (nur die öffentlichen Teile), wie im JWKS veröffentlicht.',
  'keys.loading': 'Schlüssel werden geladen…',
  'keys.loadFailed': 'Die Schlüssel konnten nicht geladen werden.',
  'keys.kid': 'Schlüssel-ID',
  'keys.algorithm': 'Algorithmus',
  'keys.activeFrom': 'Aktiv ab',
  'keys.retired': 'Außer Dienst',
  'keys.publishedUntil': 'Veröffentlicht bis',
  'keys.statusNext': 'nächster',
  'keys.statusActive': 'aktiv',
  'keys.statusRetired': 'außer Dienst',
  'keys.rotateHeading': 'Rotieren',
  'keys.rotate': 'Signaturschlüssel rotieren',
  'keys.rotateQuestion':
    'Jetzt rotieren? Ein neuer Schlüssel wird sofort veröffentlicht und übernimmt das Signieren nach der Vorlaufzeit der Veröffentlichung.',
  'keys.rotateYes': 'Ja, rotieren',
  'keys.rotateFailed': 'Der Schlüssel konnte nicht rotiert werden.',
  'keys.rotatedNext':
    'Ein neuer Signaturschlüssel ist jetzt veröffentlicht und signiert ab {at}, sobald die zwischengespeicherten Schlüsselsätze der Prüfer ihn kennen.',
  'keys.rotatedNow': 'Der neue Signaturschlüssel signiert ab sofort; der vorige bleibt für die von ihm signierten Tokens veröffentlicht.',
  'keys.forwardFailed': 'Der Schlüssel konnte nicht vorgezogen werden.',
  'keys.forwardNow': 'Schlüssel {kid} signiert ab sofort; der vorige bleibt für die von ihm signierten Tokens veröffentlicht.',
  'keys.forwardAt': 'Schlüssel {kid} übernimmt das Signieren jetzt am {at}.',
  'keys.next': 'Nächster Schlüssel',
  'keys.nextTakesOver': 'Schlüssel {kid} ist veröffentlicht und übernimmt das Signieren am {at}.',
  'keys.nextEarliest':
    'Er kann frühestens auf {at} vorgezogen werden: Bis dahin haben Prüfer womöglich noch einen Schlüsselsatz, der vor seiner Veröffentlichung abgerufen wurde.',
  'keys.takeOverAt': 'Übernehmen am (in deiner Ortszeit, {zone}; leer: so bald wie erlaubt)',
  'keys.bringForward': 'Vorziehen',
};
