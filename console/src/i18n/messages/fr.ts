import type { MessageId } from './en.js';
import { audit } from './fr/audit.js';
import { clientForms } from './fr/client-forms.js';
import { clients } from './fr/clients.js';
import { keys } from './fr/keys.js';
import { services } from './fr/services.js';
import { shell } from './fr/shell.js';
import { trustedIssuers } from './fr/trusted-issuers.js';
import { webhooks } from './fr/webhooks.js';

/** Français : les mots d'Uptrends où ils conviennent (compte API, informations d'identification). */
export const fr: Record<MessageId, string> = {
  ...shell,
  ...clients,
  ...clientForms,
  ...services,
  ...trustedIssuers,
  ...keys,
  ...audit,
  ...webhooks,
};
