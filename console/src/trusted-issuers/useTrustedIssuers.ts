import { useEffect, useState } from 'react';
import type { Api, TrustedIssuer } from '../api';

/** The trusted issuers, for the identities editor's picker: empty until they have loaded. */
export function useTrustedIssuers(api: Api): TrustedIssuer[] {
  const [issuers, setIssuers] = useState<TrustedIssuer[]>([]);
  useEffect(() => {
    void api.GET('/admin/trusted-issuers').then(({ data }) => setIssuers(data?.items ?? []));
  }, [api]);
  return issuers;
}
