import Type, { type Static } from 'typebox';
import { limitSchema, nullable } from './common.js';

export const eventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({ maxLength: 40, description: 'The `next_cursor` of the previous page; none: from the oldest event kept.' }),
    ),
    types: Type.Optional(
      Type.String({
        maxLength: 2000,
        pattern: '^[\\u0020-\\u007e]*$',
        description: 'Event types, prefixes ending in `*` (`dev.portier.client.*`) or `*`, comma-separated; none: every event.',
      }),
    ),
    limit: Type.Optional(limitSchema),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof eventsQuery>;

/** A CloudEvents 1.0 event, structured JSON. */
export const cloudEvent = Type.Object({
  specversion: Type.Literal('1.0'),
  id: Type.String(),
  source: Type.String(),
  type: Type.String({ description: '`dev.portier.<action>`, e.g. `dev.portier.client.created`.' }),
  subject: Type.Optional(Type.String({ description: 'The id of what the event is about: a client_id, service id, kid…' })),
  time: Type.String({ format: 'date-time' }),
  datacontenttype: Type.Literal('application/json'),
  data: Type.Object({}, { additionalProperties: true, description: 'The audit event, as GET /admin/audit-events shows it.' }),
});

export const eventsPage = Type.Object({
  items: Type.Array(cloudEvent),
  next_cursor: nullable(Type.String({ description: 'Pass as `after` to read on; the same cursor again when nothing new has come.' })),
});
