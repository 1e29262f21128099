import { useIntl } from 'react-intl';
import { ConfirmedAction } from '../ui/ConfirmedAction';

/** Rotating the signing key, after a confirmation; `busy` while the request runs. */
export function RotateKey({ busy, onRotate }: { busy: boolean; onRotate: () => Promise<void> }) {
  const intl = useIntl();
  return (
    <div className="panel">
      <h2>{intl.formatMessage({ id: 'keys.rotateHeading' })}</h2>
      <ConfirmedAction
        label={intl.formatMessage({ id: 'keys.rotate' })}
        question={intl.formatMessage({ id: 'keys.rotateQuestion' })}
        confirmLabel={intl.formatMessage({ id: 'keys.rotateYes' })}
        cancelLabel={intl.formatMessage({ id: 'common.cancel' })}
        busy={busy}
        onConfirm={onRotate}
      />
    </div>
  );
}
