import { ConfirmedAction } from './ConfirmedAction';

/**
 * A detail screen's danger zone: deleting the record `id` (a `what`, such as "service"),
 * after a confirmation that says what deleting it does (`consequence`).
 */
export function DeletePanel({
  what,
  id,
  consequence,
  headingId,
  onDelete,
}: {
  what: string;
  id: string;
  consequence: string;
  headingId: string;
  onDelete: () => Promise<void>;
}) {
  return (
    <section className="panel danger-zone" aria-labelledby={headingId}>
      <h2 id={headingId}>Delete</h2>
      <ConfirmedAction
        label={`Delete ${what}`}
        labelClassName="danger"
        question={`Delete the ${what} ${id}? ${consequence}`}
        confirmLabel={`Yes, delete ${what}`}
        cancelLabel="Keep it"
        onConfirm={onDelete}
      />
    </section>
  );
}
