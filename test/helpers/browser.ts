/**
 * A real browser for the dashboard tests (SPEC §13): Debian's chromium, driven by playwright-core
 * with `executablePath`. Nothing is downloaded. Locally a missing chromium skips the tests; under
 * CI=true it fails them (`hasChromium()`, like `hasTool`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { forgetDir, forgetProcess, reapDir, reapProcess } from './reaper.js';
import { hasTool, toolPath } from './tools.js';

/** Debian names it `chromium`; other systems `chromium-browser`. */
export function chromiumPath(): string | undefined {
  return toolPath('chromium') ?? toolPath('chromium-browser');
}

/** Whether the browser tests can run: see `hasTool`. */
export function hasChromium(): boolean {
  return chromiumPath() !== undefined || hasTool('chromium');
}

/** A page and everything it did: console errors, uncaught errors, and every request's URL. */
export interface WatchedPage {
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  requests: string[];
  /** Every request that left for another origin than `origin` (data: and blob: URLs are not requests to a host). */
  foreignRequests(origin: string): string[];
}

export interface BrowserSession {
  context: BrowserContext;
  /** A new tab, watched from its first request; a dialog (confirm) is accepted. */
  open(url: string, viewport?: { width: number; height: number }): Promise<WatchedPage>;
  close(): Promise<void>;
}

/** The pids of our own children now: the browser is the one that appears across launch. */
function childPids(): Set<number> {
  const found = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) found.add(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/**
 * Launches headless chromium with a fresh profile in a temp dir (removed by `close`, or by the
 * reaper if this process dies first), the sandbox off only when running as root.
 */
export async function launchBrowser(): Promise<BrowserSession> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed (apt-get install chromium)');
  const profile = mkdtempSync(join(tmpdir(), 'rp-chromium-'));
  reapDir(profile);
  const before = childPids();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    chromiumSandbox: process.getuid?.() !== 0,
    args: ['--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
  const browserPids = [...childPids()].filter((pid) => !before.has(pid));
  for (const pid of browserPids) reapProcess(pid);

  return {
    context,
    async open(url, viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      const watched: WatchedPage = {
        page,
        consoleErrors: [],
        pageErrors: [],
        requests: [],
        foreignRequests: (origin) => watched.requests.filter((u) => !/^(data|blob):/.test(u) && new URL(u).origin !== origin),
      };
      page.on('console', (message) => {
        if (message.type() === 'error') watched.consoleErrors.push(`${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => watched.pageErrors.push(String(error)));
      page.on('request', (request) => watched.requests.push(request.url()));
      page.on('dialog', (dialog) => void dialog.accept());
      await page.goto(url);
      return watched;
    },
    async close() {
      await context.close().catch(() => undefined);
      for (const pid of browserPids) forgetProcess(pid);
      rmSync(profile, { recursive: true, force: true });
      forgetDir(profile);
    },
  };
}
