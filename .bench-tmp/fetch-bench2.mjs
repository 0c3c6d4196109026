import { serveApp } from '/work/wt16-export/bin/lib/server.mjs';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '/work/wt16-export/server/chromium.js';
const root = '/work/wt16-export';
const server = await serveApp({ root, dist: root + '/dist', modelDirs: [], port: 48205 });
const MB = 1024 * 1024;
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
const page = await browser.newPage();
await page.goto(server.origin + '/');
for (const [kind, size, n] of [['blob', 32, 2], ['buffer', 4, 4], ['blob', 4, 4]]) {
  const session = server.uploads.open('/tmp/export-work/bench/out3', [{ path: 'a.bin', bytes: n * size * MB }], () => {});
  const t0 = performance.now();
  const r = await page.evaluate(async ({ url, token, kind, size, n }) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const a = new Uint8Array(size * 1024 * 1024).fill(i);
      const body = kind === 'blob' ? new Blob([a]) : a;
      const t = performance.now();
      const res = await fetch(`${url}?path=a.bin&offset=${i * size * 1024 * 1024}`, { method: 'PUT', headers: { 'x-ctlab-token': token }, body });
      out.push(Math.round(performance.now() - t));
    }
    return out;
  }, { url: session.url, token: session.token, kind, size, n });
  const s = (performance.now() - t0) / 1000;
  console.log(kind, size, 'MB x', n, r, (n * size / s).toFixed(1), 'MB/s');
  await session.finish();
}
await browser.close();
await server.close();
