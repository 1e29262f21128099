import type { keys as english } from '../en/keys.js';

/** The signing keys screen. (Dutch) */
export const keys: Record<keyof typeof english, string> = {
  'keys.intro': 'De sleutels die toegangstokens ondertekenen (alleen de publieke delen), zoals gepubliceerd in de JWKS.',
  'keys.loading': 'Sleutels laden…',
  'keys.loadFailed': 'De sleutels konden niet worden geladen.',
  'keys.kid': 'Sleutel-ID',
  'keys.algorithm': 'Algoritme',
  'keys.activeFrom': 'Actief vanaf',
  'keys.retired': 'Buiten gebruik',
  'keys.publishedUntil': 'Gepubliceerd tot',
  'keys.statusNext': 'volgende',
  'keys.statusActive': 'actief',
  'keys.statusRetired': 'buiten gebruik',
  'keys.rotateHeading': 'Roteren',
  'keys.rotate': 'Signeersleutel roteren',
  'keys.rotateQuestion':
    'Nu roteren? Er wordt meteen een nieuwe sleutel gepubliceerd, die na de publicatietermijn het ondertekenen overneemt.',
  'keys.rotateYes': 'Ja, roteren',
  'keys.rotateFailed': 'De sleutel kon niet worden geroteerd.',
  'keys.rotatedNext':
    'Er is nu een nieuwe signeersleutel gepubliceerd; die begint op {at} met ondertekenen, zodra de gecachte sleutelsets van verifiers hem kennen.',
  'keys.rotatedNow':
    'De nieuwe signeersleutel ondertekent vanaf nu; de vorige blijft gepubliceerd voor de tokens die hij heeft ondertekend.',
  'keys.forwardFailed': 'De sleutel kon niet worden vervroegd.',
  'keys.forwardNow': 'Sleutel {kid} ondertekent vanaf nu; de vorige blijft gepubliceerd voor de tokens die hij heeft ondertekend.',
  'keys.forwardAt': 'Sleutel {kid} neemt het ondertekenen nu over op {at}.',
  'keys.next': 'Volgende sleutel',
  'keys.nextTakesOver': 'Sleutel {kid} is gepubliceerd en neemt het ondertekenen over op {at}.',
  'keys.nextEarliest':
    'Hij kan op zijn vroegst naar {at} worden vervroegd: tot dan kunnen verifiers nog een sleutelset hebben die is opgehaald voordat hij werd gepubliceerd.',
  'keys.takeOverAt': 'Overnemen op (in uw lokale tijd, {zone}; leeg: zo snel als toegestaan)',
  'keys.bringForward': 'Vervroegen',
};
