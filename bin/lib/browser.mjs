// @ts-check
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../server/chromium.js';

/**
 * Opens the app in headless Chromium with a persistent profile (so the model cache survives
 * between runs) and returns a function that calls the page's `window.ctlab` API.
 * @param {{ origin: string, profile: string, onProgress: (e: unknown) => void, onLog: (line: string) => void }} opts
 */
export async function openApp({ origin, profile, onProgress, onLog }) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.exposeFunction('__ctlabProgress', (/** @type {unknown} */ e) => onProgress(e));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') onLog(`[page ${msg.type()}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => onLog(`[page error] ${err.message}`));
  await page.goto(`${origin}/?automation=1`);
  await page.waitForFunction(() => 'ctlab' in window, undefined, { timeout: 60_000 });
  return {
    /**
     * @param {string} method
     * @param {unknown} args
     */
    call: (method, args) =>
      page.evaluate(
        ([m, a]) => /** @type {any} */ (window).ctlab[/** @type {string} */ (m)](a),
        /** @type {[string, unknown]} */ ([method, args]),
      ),
    close: () => context.close(),
  };
}
