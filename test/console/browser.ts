import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { ADMIN_ID, ADMIN_SECRET, buildWithAdmin, type TestLike } from '../helpers.js';

/** Helpers of the console's browser tests: Debian's chromium driven by playwright-core. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BUILT_INDEX = join(ROOT, 'dist', 'console', 'index.html');

function newestSource(folder: string): number {
  let newest = 0;
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(path) : stat.mtimeMs);
  }
  return newest;
}

/**
 * Builds the console (vite, as `npm run build` does) when dist/console is missing or older
 * than a file of console/, so that the tests never run against a stale build.
 */
export function ensureConsoleBuilt(): void {
  const sources = Math.max(
    newestSource(join(ROOT, 'console', 'src')),
    newestSource(join(ROOT, 'console', 'public')),
    ...['index.html', 'vite.config.ts', 'precompress.ts'].map((name) => statSync(join(ROOT, 'console', name)).mtimeMs),
  );
  if (existsSync(BUILT_INDEX) && statSync(BUILT_INDEX).mtimeMs >= sources) return;
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
  } catch (error) {
    const output = error instanceof Error && 'stderr' in error ? String(error.stderr) : String(error);
    throw new Error(`the console could not be built (npm run build): ${output}`);
  }
}

/**
 * Why the browser tests cannot run here, or false when they can. Without Debian's chromium
 * they are skipped, saying so, so that `npm test` works on a machine with only Node and
 * npm; CI sets REQUIRE_CHROMIUM=1 (after installing the package), and there a missing
 * browser fails the run instead.
 */
export function browserMissing(): string | false {
  if (existsSync(CHROMIUM) || process.env.REQUIRE_CHROMIUM === '1') return false;
  return `no chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) to run the browser tests`;
}

/**
 * A Portier for the browser: buildWithAdmin's (with the bootstrap admin, ADMIN_ID), listening
 * on 127.0.0.1 (on `port`, or on any free one), with the console built first if it is stale.
 */
export async function startConsole(t: TestLike, { port = 0, ...options }: Parameters<typeof buildWithAdmin>[1] & { port?: number } = {}) {
  ensureConsoleBuilt();
  const server = await buildWithAdmin(t, options);
  await server.app.listen({ port, host: '127.0.0.1' });
  return { server, origin: `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}` };
}

/** One chromium for a test file, closed at teardown. */
export async function launchBrowser(t: TestLike): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * A page at 1280 × 800 in a browser context of its own (its own cookies), and what it logs
 * as errors (collectErrors). `closeAtEndOf`: the context is closed when that test ends.
 */
export async function openPage(
  browser: Browser,
  closeAtEndOf?: TestLike,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (closeAtEndOf !== undefined) closeAtEndOf.teardown(() => context.close());
  const page = await context.newPage();
  return { context, page, errors: collectErrors(page) };
}

/** A test file's browser (closed at teardown) and a first page (openPage). */
export async function openBrowser(t: TestLike): Promise<{ browser: Browser; context: BrowserContext; page: Page; errors: string[] }> {
  const browser = await launchBrowser(t);
  return { browser, ...(await openPage(browser)) };
}

/** What the page wrote to its console as an error, and every uncaught exception. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

/** Fills in and submits the sign-in form: as the bootstrap admin unless told otherwise. */
export async function signIn(page: Page, clientId = ADMIN_ID, secret = ADMIN_SECRET): Promise<void> {
  await page.getByLabel('Client ID').fill(clientId);
  await page.getByLabel('Client secret').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules). */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const violations = await page.evaluate<Array<{ id: string; impact: string | null; targets: string }>>(`
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
      .then((result) => result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: JSON.stringify(v.nodes.map((n) => n.target)) })))
  `);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.targets}`);
}

/** How many pixels the page is wider than its viewport (0: no horizontal scrolling). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

/**
 * What every screen of the console must be: no serious or critical axe violation at 1280 px
 * (and at 390 px too where `narrowAxe` asks, e.g. for the tables' narrow layout), and no
 * horizontal scrolling at 390 px; then its screenshots. axe is the costly part, so most
 * screens are checked at one width.
 */
export async function checkScreen(t: Test, page: Page, name: string, narrowAxe = false): Promise<void> {
  t.same(await accessibilityViolations(page), [], `${name}: no serious or critical accessibility violations at 1280 px`);
  await page.setViewportSize({ width: 390, height: 844 });
  t.equal(await horizontalOverflow(page), 0, `${name}: no horizontal scrolling at 390 px`);
  if (narrowAxe) t.same(await accessibilityViolations(page), [], `${name}: no serious or critical accessibility violations at 390 px`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshots(page, name);
}

/**
 * With CONSOLE_SCREENSHOTS=1, saves the page at 1280 and 390 px wide to
 * docs/console/<name>-<width>.png (docs/console.md shows them); otherwise does nothing.
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  if (process.env.CONSOLE_SCREENSHOTS !== '1') return;
  const folder = join(ROOT, 'docs', 'console');
  mkdirSync(folder, { recursive: true });
  const original = page.viewportSize() ?? { width: 1280, height: 800 };
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    await page.waitForTimeout(100);
    await page.screenshot({ path: join(folder, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}
