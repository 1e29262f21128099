import { useIntl } from 'react-intl';
import { fieldErrorViews } from './fieldErrorViews';

/**
 * What a screen says until its data is there: why it could not be loaded (an alert, with a
 * Retry button when there is `onRetry`), or `loadingText` meanwhile.
 */
export function LoadStatus({
  error,
  loaded,
  loadingText,
  onRetry,
}: {
  error: string | null;
  loaded: boolean;
  loadingText: string;
  onRetry?: () => void;
}) {
  const intl = useIntl();
  if (error !== null && onRetry !== undefined) {
    return (
      <div role="alert" className="error">
        <p>{error}</p>
        <button type="button" className="secondary" onClick={onRetry}>
          {intl.formatMessage({ id: 'common.retry' })}
        </button>
      </div>
    );
  }
  if (error !== null) {
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  }
  return loaded ? null : (
    <p role="status" className="muted">
      {loadingText}
    </p>
  );
}

/** What a form says above its fields: the errors of no field in particular (an alert), and the notice of what it did. */
export function FormStatus({ errors, notice }: { errors: Record<string, string[]>; notice: string | null }) {
  return (
    <>
      {fieldErrorViews(errors, '').formError()}
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
    </>
  );
}
