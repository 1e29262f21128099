import { useIntl } from 'react-intl';
import { exactTime, localTime, relativeTime } from '../format';

/**
 * A time as the console shows it: in the person's language and time zone (`exact`), relative
 * to now (`relative`), or both; always the exact UTC time on hover and in `dateTime`.
 * `withZone`: name the time zone (expiries, where a person must know which 17:00 it is).
 */
export function Time({ iso, show = 'exact', withZone = false }: { iso: string; show?: 'exact' | 'relative' | 'both'; withZone?: boolean }) {
  const { locale } = useIntl();
  const exact = localTime(iso, locale, { withZone });
  const relative = relativeTime(iso, Date.now(), locale);
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {show === 'exact' ? exact : show === 'relative' ? relative : `${exact} (${relative})`}
    </time>
  );
}
