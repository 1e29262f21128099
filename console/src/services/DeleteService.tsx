import { useState } from 'react';

/** Deleting a service, after a confirmation. */
export function DeleteService({ serviceId, onDelete }: { serviceId: string; onDelete: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const confirm = async () => {
    await onDelete();
    setConfirming(false);
  };
  return (
    <section className="panel danger-zone" aria-labelledby="service-delete-heading">
      <h2 id="service-delete-heading">Delete</h2>
      {confirming ? (
        <div role="alert">
          <p>Delete the service {serviceId}? This cannot be undone.</p>
          <button type="button" className="danger" onClick={() => void confirm()}>
            Yes, delete service
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete service
        </button>
      )}
    </section>
  );
}
