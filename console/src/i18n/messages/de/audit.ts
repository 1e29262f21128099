import type { audit as english } from '../en/audit.js';

/** The audit trail and the console sessions. (German) */
export const audit: Record<keyof typeof english, string> = {
  'sessions.intro':
    'Personen, die in der Konsole angemeldet sind. Beendest du eine Sitzung, wird die Person bei ihrer nächsten Anfrage abgemeldet.',
  'sessions.none': 'Niemand ist über den Identitätsanbieter angemeldet.',
  'sessions.person': 'Person',
  'sessions.role': 'Rolle',
  'sessions.address': 'IP-Adresse',
  'sessions.signedIn': 'Angemeldet',
  'sessions.lastSeen': 'Zuletzt aktiv',
  'sessions.ends': 'Endet',
  'sessions.actions': 'Aktionen',
  'sessions.end': 'Sitzung beenden',
  'sessions.ended': 'Die Sitzung von {name} ist beendet.',
  'sessions.endFailed': 'Die Sitzung konnte nicht beendet werden.',
  'audit.filters': 'Ereignisse filtern',
  'audit.when': 'Wann',
  'audit.action': 'Aktion',
  'audit.client': 'Client',
  'audit.by': 'Von',
  'audit.details': 'Details',
  'audit.person': 'Von (Name, E-Mail oder Admin-Client)',
  'audit.since': 'Seit',
  'audit.until': 'Bis',
  'audit.loading': 'Ereignisse werden geladen …',
  'audit.none': 'Keine Ereignisse entsprechen diesen Filtern.',
  'audit.changedTo': 'geändert in',
  'audit.loadFailed': 'Das Audit-Protokoll konnte nicht geladen werden.',
  'sessions.loadFailed': 'Die Sitzungen konnten nicht geladen werden.',
};
