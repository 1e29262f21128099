/**
 * A small HTTP client that behaves like a browser where the sign-in needs it: it keeps
 * cookies (per host, as browsers do: ports do not separate them; Path and Max-Age=0
 * honoured) and follows redirects between Portier and the identity provider, a 302 or 303
 * becoming a GET. Every hop is kept, for the assertions.
 */
export interface Hop {
  method: string;
  url: string;
  status: number;
  location: string | undefined;
  setCookies: string[];
  body: string;
}

interface StoredCookie {
  value: string;
  path: string;
}

export class UserAgent {
  private readonly jar = new Map<string, Map<string, StoredCookie>>();

  /** One request, no redirect followed. */
  async request(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Hop> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const cookies = this.cookiesFor(target);
    if (cookies !== '' && headers.cookie === undefined) headers.cookie = cookies;
    const method = init.method ?? 'GET';
    const response = await fetch(target, { method, headers, body: init.body ?? null, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.store(target, line);
    return {
      method,
      url: target.href,
      status: response.status,
      location: response.headers.get('location') ?? undefined,
      setCookies,
      body: await response.text(),
    };
  }

  /** A request and the redirects after it, until an answer that is not a redirect (or `stopAt` says stop). */
  async follow(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
    stopAt: (hop: Hop) => boolean = () => false,
  ): Promise<Hop[]> {
    const hops: Hop[] = [];
    let next: { url: string; init: typeof init } | undefined = { url, init };
    while (next !== undefined && hops.length < 20) {
      const hop = await this.request(next.url, next.init);
      hops.push(hop);
      if (stopAt(hop) || hop.location === undefined || hop.status < 300 || hop.status > 399) break;
      const keepsMethod = hop.status === 307 || hop.status === 308;
      next = { url: new URL(hop.location, hop.url).href, init: keepsMethod ? next.init : {} };
    }
    return hops;
  }

  /** The value of a cookie this agent holds for `host`, if any. */
  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name)?.value;
  }

  setCookie(host: string, name: string, value: string, path = '/'): void {
    const cookies = this.jar.get(host) ?? new Map<string, StoredCookie>();
    cookies.set(name, { value, path });
    this.jar.set(host, cookies);
  }

  private cookiesFor(url: URL): string {
    const cookies = this.jar.get(url.hostname);
    if (cookies === undefined) return '';
    return [...cookies.entries()]
      .filter(
        ([, cookie]) =>
          url.pathname === cookie.path || url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`),
      )
      .map(([name, cookie]) => `${name}=${cookie.value}`)
      .join('; ');
  }

  private store(url: URL, line: string): void {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const at = pair.indexOf('=');
    if (at <= 0) return;
    const name = pair.slice(0, at);
    const value = pair.slice(at + 1);
    const attribute = (key: string) =>
      attributes.find((item) => item.toLowerCase().startsWith(`${key.toLowerCase()}=`))?.slice(key.length + 1);
    const cookies = this.jar.get(url.hostname) ?? new Map<string, StoredCookie>();
    if (attribute('Max-Age') === '0' || value === '') cookies.delete(name);
    else cookies.set(name, { value, path: attribute('Path') ?? '/' });
    this.jar.set(url.hostname, cookies);
  }
}

/** The form of the identity provider's login page in `html`: its action, made absolute against `pageUrl`. */
export function loginFormAction(html: string, pageUrl: string): string {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (action === undefined) throw new Error(`no login form on ${pageUrl}: ${html.slice(0, 200)}`);
  return new URL(action, pageUrl).href;
}

/**
 * Signs in to Portier at `origin` through its identity provider, as a browser would:
 * GET /console/auth/login, the provider's login page, the password, the redirects back.
 * Returns every hop; the callback's is the one whose URL has /console/auth/callback.
 */
export async function signInThroughIdp(ua: UserAgent, origin: string, username: string, password = 'password'): Promise<Hop[]> {
  const atCallback = (hop: Hop) => hop.url.includes('/console/auth/callback');
  // Portier's console may not be built: stop at the callback's answer.
  const toLogin = await ua.follow(`${origin}/console/auth/login`, {}, atCallback);
  // Already signed in at the provider: it sent the browser straight back.
  if (toLogin.some(atCallback)) return toLogin;
  const page = toLogin.at(-1);
  if (page === undefined || page.status !== 200)
    throw new Error(`the login page did not come: ${JSON.stringify(page?.status)} ${page?.url}`);
  const submitted = await ua.follow(
    loginFormAction(page.body, page.url),
    {
      method: 'POST',
      body: new URLSearchParams({ username, password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
    atCallback,
  );
  return [...toLogin, ...submitted];
}

/** The hop of the callback, which must be there. */
export function callbackHop(hops: Hop[]): Hop {
  const hop = hops.find((candidate) => candidate.url.includes('/console/auth/callback'));
  if (hop === undefined) throw new Error(`the sign-in never came back to Portier: ${hops.map((h) => `${h.status} ${h.url}`).join(' → ')}`);
  return hop;
}

/**
 * Signs in at the provider but stops before Portier's callback: returns the URL the
 * provider redirects the browser to (with its code and state), not yet visited.
 */
export async function callbackUrlFromIdp(ua: UserAgent, origin: string, username: string, password = 'password'): Promise<string> {
  const toLogin = await ua.follow(`${origin}/console/auth/login`);
  const page = toLogin.at(-1);
  if (page === undefined || page.status !== 200)
    throw new Error(`the login page did not come: ${JSON.stringify(page?.status)} ${page?.url}`);
  const hops = await ua.follow(
    loginFormAction(page.body, page.url),
    {
      method: 'POST',
      body: new URLSearchParams({ username, password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
    (hop) => hop.location?.includes('/console/auth/callback') === true,
  );
  const last = hops.at(-1);
  if (last?.location === undefined || !last.location.includes('/console/auth/callback'))
    throw new Error('the provider did not send the browser back');
  return new URL(last.location, last.url).href;
}
