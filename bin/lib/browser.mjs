// @ts-check
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../server/chromium.js';

/**
 * Opens the app in headless Chromium with a persistent profile (so the model cache survives
 * between runs) and returns the page's `window.ctlab` API, each method called through page.evaluate.
 * @param {{ origin: string, profile: string, onProgress: (e: unknown) => void, onLog: (line: string) => void }} opts
 */
export async function openApp({ origin, profile, onProgress, onLog }) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    // `ctlab compress --out` saves the variant's files from the browser's download path.
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.exposeFunction('__ctlabProgress', (/** @type {unknown} */ e) => onProgress(e));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') onLog(`[page ${msg.type()}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => onLog(`[page error] ${err.message}`));
  await page.goto(`${origin}/?automation=1`);
  await page.waitForFunction(() => 'ctlab' in window, undefined, { timeout: 60_000 });
  /** @type {import('./command.mjs').Page} */
  const api = /** @type {any} */ (
    new Proxy(
      {},
      {
        get: (_, method) => (/** @type {unknown} */ arg) =>
          page.evaluate(
            // The one untyped step: the method is named by a string across page.evaluate.
            ([m, a]) => /** @type {Record<string, (a: unknown) => unknown>} */ (/** @type {unknown} */ (window.ctlab))[m](a),
            /** @type {[string, unknown]} */ ([String(method), arg]),
          ),
      },
    )
  );
  const downloads = downloadQueue(page);
  /**
   * The download that `start` (a page call that clicks a download link) begins, once it has
   * begun. Chromium drops a page's download now and then without a trace (in headless Chromium
   * 156 the eleventh of a series of blob downloads, every time); a page call whose download has
   * not begun within DOWNLOAD_START_MS is made again, up to DOWNLOAD_TRIES times.
   * @param {() => Promise<unknown>} start
   * @param {string} name the file name the page gives the download
   * @returns {Promise<import('playwright-core').Download>}
   */
  const download = async (start, name) => {
    for (let attempt = 1; attempt <= DOWNLOAD_TRIES; attempt++) {
      downloads.discardOthers(name);
      await start();
      const d = await downloads.next(name, DOWNLOAD_START_MS);
      if (d) return d;
      onLog(`the browser did not begin the download of ${name} (request ${attempt} of ${DOWNLOAD_TRIES})`);
    }
    throw new Error(`the browser began no download of ${name} after ${DOWNLOAD_TRIES} requests`);
  };
  return { page: api, download, close: () => context.close() };
}

/** How long a download may take to begin after the page's click. */
const DOWNLOAD_START_MS = 10_000;
const DOWNLOAD_TRIES = 3;

/**
 * The page's downloads as they begin, taken by file name: a download that begins late, after
 * its request was repeated, is never mistaken for the next file's.
 * @param {import('playwright-core').Page} page
 */
function downloadQueue(page) {
  /** @type {import('playwright-core').Download[]} */
  const arrived = [];
  /** @type {(() => void) | null} */
  let wake = null;
  page.on('download', (d) => {
    arrived.push(d);
    wake?.();
  });
  /** @param {string} name */
  const take = (name) => {
    const i = arrived.findIndex((d) => d.suggestedFilename() === name);
    return i < 0 ? null : arrived.splice(i, 1)[0];
  };
  return {
    /**
     * The next download named `name`, or null when none begins within `ms`.
     * @param {string} name @param {number} ms
     * @returns {Promise<import('playwright-core').Download | null>}
     */
    next: (name, ms) =>
      new Promise((resolve) => {
        const found = take(name);
        if (found) return resolve(found);
        const timer = setTimeout(() => {
          wake = null;
          resolve(null);
        }, ms);
        wake = () => {
          const d = take(name);
          if (!d) return;
          clearTimeout(timer);
          wake = null;
          resolve(d);
        };
      }),
    /**
     * Cancels and forgets downloads of other names (a repeated request's late duplicate).
     * @param {string} name
     */
    discardOthers: (name) => {
      for (const d of arrived.splice(0)) {
        if (d.suggestedFilename() === name) arrived.push(d);
        else void d.cancel().catch(() => undefined);
      }
    },
  };
}
