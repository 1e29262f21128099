import type { MessageId } from './en.js';
import { audit } from './nl/audit.js';
import { clientForms } from './nl/client-forms.js';
import { clients } from './nl/clients.js';
import { keys } from './nl/keys.js';
import { services } from './nl/services.js';
import { shell } from './nl/shell.js';
import { trustedIssuers } from './nl/trusted-issuers.js';
import { webhooks } from './nl/webhooks.js';

/** Nederlands: de woorden van Uptrends, Zabbix en FOCUS waar ze passen (API-client, inloggegevens, in-/uitschakelen). */
export const nl: Record<MessageId, string> = {
  ...shell,
  ...clients,
  ...clientForms,
  ...services,
  ...trustedIssuers,
  ...keys,
  ...audit,
  ...webhooks,
};
