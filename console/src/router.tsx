import { type AnchorHTMLAttributes, createContext, type MouseEvent, type ReactNode, useContext, useEffect, useState } from 'react';

/** A small history-API router: the console's screens are URLs under /console. */
export const BASE = '/console';

interface Location {
  path: string;
  search: URLSearchParams;
}

const current = (): Location => ({
  path: window.location.pathname.replace(/^\/console/, '').replace(/\/$/, '') || '/',
  search: new URLSearchParams(window.location.search),
});

const RouterContext = createContext<{ location: Location; navigate: (to: string, replace?: boolean) => void }>({
  location: current(),
  navigate: () => undefined,
});

export function Router({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const onPop = () => setLocation(current());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = (to: string, replace = false) => {
    const url = `${BASE}${to}`;
    if (replace) window.history.replaceState(null, '', url);
    else window.history.pushState(null, '', url);
    setLocation(current());
    window.scrollTo(0, 0);
  };
  return <RouterContext.Provider value={{ location, navigate }}>{children}</RouterContext.Provider>;
}

export const useRouter = () => useContext(RouterContext);

/** A link to a console URL (`to` without the /console prefix) that navigates without reloading. */
export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const { navigate } = useRouter();
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={`${BASE}${to}`} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
