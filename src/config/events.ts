/**
 * The variables of events (src/events/): webhooks, notices and their email. Declared as in
 * variables.ts (see there), which puts these tables into the configuration.
 */
import { pemFile } from './formats.js';
import { BadValue, boolean, choice, computed, custom, integer, nonEmpty, unset } from './kinds.js';

/** Webhooks (events/deliveries.ts): an admin chooses the URL, so they are fenced in like a jwks_uri. */
export const WEBHOOKS = {
  allowPrivate: boolean({
    name: 'WEBHOOK_ALLOW_PRIVATE',
    doc: '`true` lets a webhook URL resolve to loopback, private, link-local and other non-public addresses (and be `http://` on loopback); only for receivers inside your own network (see [Webhooks](events.md#webhooks))',
    default: false,
  }),
  timeoutMs: integer({
    name: 'WEBHOOK_TIMEOUT',
    doc: 'milliseconds a delivery (connect, TLS, answer) may take before it counts as failed and is tried again',
    default: 5000,
    min: 100,
    max: 60_000,
    unit: 'milliseconds',
  }),
  maxAttempts: integer({
    name: 'WEBHOOK_MAX_ATTEMPTS',
    doc: 'attempts at one delivery (backing off from about 10 s, over about a day at the default) before it is `failed` and the webhook goes on with the next event',
    default: 15,
    min: 1,
    max: 30,
  }),
};

/**
 * GET /admin/events holds back the events after a transaction still open (events/list.ts),
 * so that a cursor never passes one not visible yet; this caps how long.
 */
export const EVENTS_MAX_HOLD = integer({
  name: 'EVENTS_MAX_HOLD',
  doc: 'seconds `GET /admin/events` holds an event back behind a transaction still open on the database; past that it is served, and a reader whose cursor moved on misses the events that transaction commits later (webhooks miss nothing) (see [Pulling events](events.md#pulling-events-get-adminevents))',
  default: 300,
  min: 1,
  max: 86_400,
  unit: 'seconds',
});

/** Notices about clients and credentials (events/notices.ts). */
export const NOTICES = {
  expiryNoticeDays: custom({
    name: 'CREDENTIAL_EXPIRY_NOTICE_DAYS',
    doc: 'how many days before a credential (or a client) expires a `dev.portier.credential.expiring` notice is given, once for each (see [Notices](events.md#notices))',
    values: 'comma-separated whole days, 1–365',
    default: computed('`30,7,1`', () => [30, 7, 1]),
    parse: (value): number[] => {
      const days = value.split(',').map((part) => part.trim());
      if (days.some((day) => !/^\d{1,3}$/.test(day) || Number(day) < 1 || Number(day) > 365)) {
        throw new BadValue('must be comma-separated whole days from 1 to 365, e.g. 30,7,1');
      }
      return [...new Set(days.map(Number))].sort((a, b) => b - a);
    },
  }),
  dormantClientDays: integer({
    name: 'DORMANT_CLIENT_DAYS',
    doc: 'a client unused for this many days gets a `dev.portier.client.dormant` notice (once, until it is used again); `0`: never',
    default: 90,
    min: 0,
    max: 3650,
    unit: 'days',
  }),
  dormantClientAction: choice({
    name: 'DORMANT_CLIENT_ACTION',
    doc: '`disable`: a dormant client is also disabled (audited); `notify`: only the notice',
    default: 'notify',
    choices: ['notify', 'disable'] as const,
  }),
};

/** Email notices to clients' owners (events/mail.ts); no email without SMTP_URL. */
export const SMTP = {
  url: custom({
    name: 'SMTP_URL',
    doc: 'where email notices go out: `smtp://user:password@host:587` (STARTTLS where the server offers it) or `smtps://…:465`; unset: no email (see [Email](events.md#email))',
    values: 'an smtp:// or smtps:// URL',
    default: unset('no email'),
    parse: (value): string => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new BadValue('must be an smtp:// or smtps:// URL');
      }
      if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new BadValue('must be an smtp:// or smtps:// URL');
      return value;
    },
  }),
  from: custom({
    name: 'SMTP_FROM',
    doc: 'the sender of email notices, e.g. `Portier <portier@example.com>`',
    values: 'an address, optionally with a name',
    default: computed('`portier@` and the host of `ISSUER`', (env): string => `portier@${issuerHost(env.ISSUER)}`),
    parse: (value): string => value,
  }),
  ca: custom({
    name: 'SMTP_CA_FILE',
    doc: "CA certificate(s) trusted for the SMTP server's TLS certificate, besides Node's own (a relay with a certificate of your own CA)",
    values: 'a PEM file',
    default: unset(),
    parse: pemFile,
  }),
};

/** The host of ISSUER (checked before these are read), for SMTP_FROM's default. */
function issuerHost(issuer: string | undefined): string {
  try {
    return new URL(nonEmpty(issuer) ?? '').hostname;
  } catch {
    return 'localhost';
  }
}
