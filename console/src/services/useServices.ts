import { useEffect, useState } from 'react';
import type { Api, Service } from '../api';

/** The service catalogue, for pickers (grants, the clients filter): empty until it has loaded. */
export function useServices(api: Api): Service[] {
  const [services, setServices] = useState<Service[]>([]);
  useEffect(() => {
    void api.GET('/admin/services').then(({ data }) => setServices(data?.items ?? []));
  }, [api]);
  return services;
}
