/**
 * Cross-origin isolation: `vite preview` and the CLI's server send COOP/COEP, so the page and its
 * workers have SharedArrayBuffer and onnxruntime-web's WASM runs on several threads (every core up
 * to four, whatever the model, or as many as asked); everything the page loads
 * (its workers, ORT's wasm and glue, the hub's CORS downloads) still loads.
 */
import { expect, test, type Page } from '@playwright/test';
import { resolve } from 'node:path';
import { serveApp } from '../../bin/lib/server.mjs';
import { defaultWasmThreads } from '../../src/lib/infer/wasm-threads';
import type { CtlabApi } from '../../src/state/automation';

type Api = { ctlab: CtlabApi };

/** What the page says about itself, and what the eval worker's ORT is configured with. */
async function threading(page: Page) {
  await page.waitForFunction(() => 'ctlab' in window);
  const panel = page.getByTestId('wasm-threads');
  return {
    isolated: await page.evaluate(() => crossOriginIsolated),
    cores: await page.evaluate(() => navigator.hardwareConcurrency),
    worker: await page.evaluate(() => (window as unknown as Api).ctlab.wasmThreading()),
    shown: {
      isolated: await panel.getAttribute('data-isolated'),
      threads: await panel.getAttribute('data-threads'),
      text: await panel.innerText(),
    },
  };
}

/** A greedy stories260k reply on WASM in the page's eval worker, from the server's models folder. */
function generateStories(page: Page, maxNewTokens: number) {
  const url = `${new URL(page.url()).origin}/models/stories260k`;
  return page.evaluate(
    ([u, n]) =>
      (window as unknown as Api).ctlab.generate({
        source: { kind: 'url', url: u },
        device: 'wasm',
        request: { prompt: 'Once upon a time', maxNewTokens: n },
      }),
    [url, maxNewTokens] as const,
  );
}

function expectThreaded(t: Awaited<ReturnType<typeof threading>>) {
  expect(t.isolated).toBe(true);
  const threads = defaultWasmThreads(t.cores);
  expect(t.worker).toEqual({ isolated: true, cores: t.cores, threads });
  if (t.cores > 1) expect(t.worker.threads).toBeGreaterThan(1);
  expect(t.shown).toMatchObject({ isolated: 'true', threads: String(threads) });
  expect(t.shown.text).not.toContain('COOP/COEP');
}

test('the preview server isolates the page: ORT gets threads, runs a WASM session on them, and CORS downloads still load', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));
  await page.goto('/');
  const t = await threading(page);
  expectThreaded(t);

  // A WASM session in the eval worker: its module worker, ORT's glue and wasm, and (threaded) ORT's
  // own pthread workers must all start under the embedder policy.
  const out = await generateStories(page, 5);
  expect(out.newIds).toHaveLength(5);
  expect(workers.some((w) => w.includes('eval.worker'))).toBe(true);

  // ORT's own pthread workers: its glue script again, started from the eval worker.
  if (t.cores > 1) expect(workers.filter((w) => w.includes('ort-wasm-simd-threaded')).length).toBeGreaterThan(0);
  // A count asked for holds in a fresh worker of its own (`ctlab bench decode --threads`).
  const bench = await page.evaluate(() =>
    (window as unknown as Api).ctlab.benchDecodeThreads({
      threads: [1, 'all'],
      layers: 1,
      promptTokens: 4,
      newTokens: 1,
      prefillLengths: [],
    }),
  );
  expect(bench).toMatchObject({ isolated: true, cores: t.cores });
  expect(bench.rows.map((r) => r.threads)).toEqual([1, t.cores, 1, t.cores]);

  // A download from the hub as the page makes it: a CORS fetch answered with
  // Access-Control-Allow-Origin and no Cross-Origin-Resource-Policy, which require-corp admits.
  const hub = 'https://huggingface.co/org/model/resolve/main/config.json';
  await page.route(hub, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': '*' },
      body: '{"model_type":"llama"}',
    }),
  );
  expect(await page.evaluate((u) => fetch(u).then((r) => r.json()), hub)).toEqual({ model_type: 'llama' });
});

test('a tiny first model gets every core, and so does a model of real size after it in the same worker', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  const t = await threading(page);
  expectThreaded(t);
  // ORT fixes the count at a worker's first session: stories260k first must not hold the next model to one thread.
  await generateStories(page, 3);
  const threads = defaultWasmThreads(t.cores);
  expect(await page.evaluate(() => (window as unknown as Api).ctlab.wasmThreading())).toEqual({ isolated: true, cores: t.cores, threads });
  if (t.cores > 1) expect(threads).toBeGreaterThan(1);
  // One layer of SmolLM2-135M's shape.
  await page.evaluate(() => (window as unknown as Api).ctlab.benchDecode({ layers: 1, promptTokens: 4, newTokens: 1, prefillLengths: [] }));
  expect((await page.evaluate(() => (window as unknown as Api).ctlab.wasmThreading())).threads).toBe(threads);
});

test("the CLI's server isolates the page too, and a host without the headers gets one thread and the hint", async ({ page }) => {
  test.setTimeout(120_000);
  const root = resolve(import.meta.dirname, '../..');
  const port = Number(process.env.CTLAB_E2E_PORT ?? 4317) + 2;
  const server = await serveApp({ root, dist: resolve(root, 'dist'), modelDirs: [], port });
  try {
    await page.goto(`${server.origin}/?automation=1`);
    expectThreaded(await threading(page));

    // The same files without COOP/COEP, as a static host that cannot set them would serve them.
    await page.route('**/*', async (route) => {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response, headers });
    });
    await page.goto(`${server.origin}/?automation=1`);
    const t = await threading(page);
    expect(t.isolated).toBe(false);
    expect(t.worker).toMatchObject({ isolated: false, threads: 1 });
    expect(t.shown).toMatchObject({ isolated: 'false', threads: '1' });
    expect(t.shown.text).toContain('served without COOP/COEP: WASM runs on one thread; see README');
  } finally {
    await server.close();
  }
});
