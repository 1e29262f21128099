import { useIntl } from 'react-intl';
import { DAY_MS } from '../format';

/** How far ahead an expiry earns a badge: the first reminder's distance (CREDENTIAL_EXPIRY_NOTICE_DAYS' default). */
export const SOON_DAYS = 30;

/** Whole days left until `iso` (rounded up: anything under a day left is 1), negative once past. */
export function daysLeft(iso: string, now = Date.now()): number {
  return Math.ceil((Date.parse(iso) - now) / DAY_MS);
}

/** "expires in 5 days" when the expiry is within SOON_DAYS, "expired" once past, nothing otherwise. */
export function ExpiryBadge({ iso }: { iso: string }) {
  const intl = useIntl();
  const days = daysLeft(iso);
  if (days > SOON_DAYS) return null;
  return (
    <span className={days <= 7 ? 'badge badge-warning' : 'badge'}>
      {days <= 0 ? intl.formatMessage({ id: 'expiry.past' }) : intl.formatMessage({ id: 'expiry.inDays' }, { days })}
    </span>
  );
}
