import { audit } from './de/audit.js';
import { clientForms } from './de/client-forms.js';
import { clients } from './de/clients.js';
import { keys } from './de/keys.js';
import { services } from './de/services.js';
import { shell } from './de/shell.js';
import { trustedIssuers } from './de/trusted-issuers.js';
import { webhooks } from './de/webhooks.js';
import type { MessageId } from './en.js';

/** Deutsch: die Wörter von Flip, wo sie passen (API-Client, Client-ID, Deaktivieren/Reaktivieren), mit „du“ wie dort. */
export const de: Record<MessageId, string> = {
  ...shell,
  ...clients,
  ...clientForms,
  ...services,
  ...trustedIssuers,
  ...keys,
  ...audit,
  ...webhooks,
};
