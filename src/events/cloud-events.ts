import { CloudEvent } from 'cloudevents';
import { auditEventResource } from '../audit/store.js';
import type { auditEvents } from '../db/schema.js';
import { eventType } from './types.js';

/** A CloudEvents 1.0 event in its structured JSON form, as /admin/events serves and webhooks receive it. */
export interface CloudEventJson {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

/**
 * An audit row as a CloudEvent: `id` the row's event_id (receivers deduplicate on it),
 * `source` the issuer, `type` `dev.portier.<action>`, `subject` the id of the object the
 * event is about (a client_id, a service id, a kid…, when the event names one), `time`
 * when it was recorded, and `data` the audit event as GET /admin/audit-events shows it.
 * Built with the `cloudevents` package, which checks every attribute against the
 * specification (a bad one throws: it would be a bug here, not bad input).
 */
export function toCloudEvent(row: typeof auditEvents.$inferSelect, source: string): CloudEvent<Record<string, unknown>> {
  const data = auditEventResource(row);
  const subject = subjectOf(data.client_id, data.details as Record<string, unknown>);
  return new CloudEvent<Record<string, unknown>>({
    specversion: '1.0',
    id: row.eventId,
    source,
    type: eventType(row.action),
    ...(subject !== undefined && { subject }),
    time: data.at,
    datacontenttype: 'application/json',
    data: data as unknown as Record<string, unknown>,
  });
}

export function cloudEventJson(row: typeof auditEvents.$inferSelect, source: string): CloudEventJson {
  return toCloudEvent(row, source).toJSON() as unknown as CloudEventJson;
}

/** The names under which the audit details carry the id of what the event is about, when no client is. */
const SUBJECT_DETAILS = ['service', 'trusted_issuer', 'kid', 'webhook', 'session_id'] as const;

function subjectOf(clientId: string | null, details: Record<string, unknown>): string | undefined {
  if (clientId !== null) return clientId;
  for (const name of SUBJECT_DETAILS) {
    const value = details[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}
