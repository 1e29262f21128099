import { useIntl } from 'react-intl';
import { ConfirmedAction } from './ConfirmedAction';

/**
 * A detail screen's danger zone: deleting a record with the button `label`, after the
 * `question` (which says what deleting it does) is confirmed with `confirmLabel`; all three
 * in the person's language.
 */
export function DeletePanel({
  label,
  question,
  confirmLabel,
  headingId,
  onDelete,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  headingId: string;
  onDelete: () => Promise<void>;
}) {
  const intl = useIntl();
  return (
    <section className="panel danger-zone" aria-labelledby={headingId}>
      <h2 id={headingId}>{intl.formatMessage({ id: 'delete.heading' })}</h2>
      <ConfirmedAction
        label={label}
        labelClassName="danger"
        question={question}
        confirmLabel={confirmLabel}
        cancelLabel={intl.formatMessage({ id: 'delete.keep' })}
        onConfirm={onDelete}
      />
    </section>
  );
}
