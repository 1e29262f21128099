import type { keys as english } from '../en/keys.js';

/** The signing keys screen. (French) */
export const keys: Record<keyof typeof english, string> = {
  'keys.intro': "Les clés qui signent les jetons d'accès (parties publiques seulement), telles que publiées dans le JWKS.",
  'keys.loading': 'Chargement des clés…',
  'keys.loadFailed': "Les clés n'ont pas pu être chargées.",
  'keys.kid': 'Identifiant de clé',
  'keys.algorithm': 'Algorithme',
  'keys.activeFrom': 'Active à partir du',
  'keys.retired': 'Retirée le',
  'keys.publishedUntil': "Publiée jusqu'au",
  'keys.statusNext': 'suivante',
  'keys.statusActive': 'active',
  'keys.statusRetired': 'retirée',
  'keys.rotateHeading': 'Rotation',
  'keys.rotate': 'Renouveler la clé de signature',
  'keys.rotateQuestion':
    'Renouveler maintenant ? Une nouvelle clé est publiée aussitôt et prend le relais de la signature après le délai de publication.',
  'keys.rotateYes': 'Oui, renouveler',
  'keys.rotateFailed': "La clé n'a pas pu être renouvelée.",
  'keys.rotatedNext':
    'Une nouvelle clé de signature est publiée et commencera à signer le {at}, une fois connue des jeux de clés en cache des vérificateurs.',
  'keys.rotatedNow': "La nouvelle clé de signature signe dès maintenant ; la précédente reste publiée pour les jetons qu'elle a signés.",
  'keys.forwardFailed': "La clé n'a pas pu être avancée.",
  'keys.forwardNow': "La clé {kid} signe dès maintenant ; la précédente reste publiée pour les jetons qu'elle a signés.",
  'keys.forwardAt': 'La clé {kid} prend désormais le relais de la signature le {at}.',
  'keys.next': 'Clé suivante',
  'keys.nextTakesOver': 'La clé {kid} est publiée et prend le relais de la signature le {at}.',
  'keys.nextEarliest':
    "Elle peut être avancée au plus tôt au {at} : d'ici là, des vérificateurs peuvent encore détenir un jeu de clés récupéré avant sa publication.",
  'keys.takeOverAt': 'Prendre le relais le (heure locale, {zone} ; vide : dès que possible)',
  'keys.bringForward': 'Avancer',
};
