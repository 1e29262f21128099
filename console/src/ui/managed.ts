import type { MessageId } from '../i18n/messages';

/**
 * What the `managed` mark of a client, service or trusted issuer means: created by a
 * configuration apply, which deletes it again (with prune) once its document no longer lists it.
 */
export function managedMessage(managed: boolean): MessageId {
  return managed ? 'managed.yes' : 'managed.no';
}
