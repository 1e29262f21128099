import type { audit as english } from '../en/audit.js';

/** The audit trail and the console sessions. (Dutch) */
export const audit: Record<keyof typeof english, string> = {
  'sessions.intro':
    'Personen die in de console zijn ingelogd. Beëindigt u een sessie, dan wordt die persoon bij het volgende verzoek uitgelogd.',
  'sessions.none': 'Niemand is via de identiteitsprovider ingelogd.',
  'sessions.person': 'Persoon',
  'sessions.role': 'Rol',
  'sessions.address': 'IP-adres',
  'sessions.signedIn': 'Ingelogd',
  'sessions.lastSeen': 'Laatst actief',
  'sessions.ends': 'Eindigt',
  'sessions.actions': 'Acties',
  'sessions.end': 'Sessie beëindigen',
  'sessions.ended': 'De sessie van {name} is beëindigd.',
  'sessions.endFailed': 'De sessie kon niet worden beëindigd.',
  'audit.filters': 'Gebeurtenissen filteren',
  'audit.when': 'Wanneer',
  'audit.action': 'Actie',
  'audit.client': 'Client',
  'audit.by': 'Door',
  'audit.details': 'Details',
  'audit.person': 'Door (naam, e-mailadres of beheerclient)',
  'audit.since': 'Vanaf',
  'audit.until': 'Tot en met',
  'audit.loading': 'Gebeurtenissen laden…',
  'audit.none': 'Geen gebeurtenissen die aan deze filters voldoen.',
  'audit.changedTo': 'gewijzigd in',
  'audit.loadFailed': 'De audittrail kon niet worden geladen.',
  'sessions.loadFailed': 'De sessies konden niet worden geladen.',
};
