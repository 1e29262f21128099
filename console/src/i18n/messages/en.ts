import { audit } from './en/audit.js';
import { clientForms } from './en/client-forms.js';
import { clients } from './en/clients.js';
import { keys } from './en/keys.js';
import { services } from './en/services.js';
import { shell } from './en/shell.js';
import { trustedIssuers } from './en/trusted-issuers.js';
import { webhooks } from './en/webhooks.js';

/**
 * The console's messages in English, the source catalogue: ICU MessageFormat (plurals with
 * {count, plural, …}), one flat object keyed by id, put together from one file per screen
 * area (en/*.ts). nl.ts, fr.ts and de.ts translate every id, area by area (see index.ts).
 */
export const en = { ...shell, ...clients, ...clientForms, ...services, ...trustedIssuers, ...keys, ...audit, ...webhooks };

export type MessageId = keyof typeof en;
