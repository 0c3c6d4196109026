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
  /**
   * The download that `start` (a page call) begins, once it has begun.
   * @param {() => Promise<unknown>} start
   * @returns {Promise<import('playwright-core').Download>}
   */
  const download = async (start) => (await Promise.all([page.waitForEvent('download', { timeout: 0 }), start()]))[0];
  return { page: api, download, close: () => context.close() };
}
