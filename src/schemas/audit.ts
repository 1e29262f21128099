import Type, { type Static } from 'typebox';
import { dateTime, filterText, limitSchema, nullable } from './common.js';

export const auditQuery = Type.Object(
  {
    action: Type.Optional(filterText(100)),
    client_id: Type.Optional(filterText(1024)),
    actor_client_id: Type.Optional(filterText(1024)),
    actor: Type.Optional(
      Type.String({
        ...filterText(200),
        description: "Who acted, as the trail names them (a person's name or email, an admin client's client_id): part of it, any case.",
      }),
    ),
    since: Type.Optional(dateTime),
    until: Type.Optional(dateTime),
    limit: Type.Optional(limitSchema),
    cursor: Type.Optional(Type.String({ maxLength: 20 })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof auditQuery>;
/** The filters of an audit listing (the query without its paging). */
export type AuditFilters = Omit<AuditQuery, 'limit' | 'cursor'>;

export const auditEventResource = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  action: Type.String(),
  actor: Type.Object({
    client_id: nullable(Type.String()),
    sub: nullable(Type.String()),
    name: nullable(Type.String({ description: "A person's name or email, an admin client's client_id." })),
    ip: nullable(Type.String()),
  }),
  client_id: nullable(Type.String()),
  details: Type.Object({}, { additionalProperties: true }),
  count: Type.Integer(),
});
export type AuditEventResource = Static<typeof auditEventResource>;

export const auditPage = Type.Object({ items: Type.Array(auditEventResource), next_cursor: nullable(Type.String()) });
