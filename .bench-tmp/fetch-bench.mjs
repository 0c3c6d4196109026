import { serveApp } from '/work/wt16-export/bin/lib/server.mjs';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '/work/wt16-export/server/chromium.js';
const root = '/work/wt16-export';
const server = await serveApp({ root, dist: root + '/dist', modelDirs: [], port: 48205 });
const files = [{ path: 'a.bin', bytes: 4 * 32 * 1024 * 1024 }];
let t0 = 0;
const session = server.uploads.open('/tmp/export-work/bench/out', files, (p, d, t) => console.log('server got', d, ((performance.now() - t0) / 1000).toFixed(2), 's'));
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
const page = await browser.newPage();
await page.goto(server.origin + '/');
t0 = performance.now();
const r = await page.evaluate(async ({ url, token }) => {
  const out = [];
  for (let i = 0; i < 4; i++) {
    const b = new Uint8Array(32 * 1024 * 1024).fill(i);
    const t = performance.now();
    const res = await fetch(`${url}?path=a.bin&offset=${i * 32 * 1024 * 1024}`, { method: 'PUT', headers: { 'x-ctlab-token': token }, body: b });
    out.push([res.status, performance.now() - t]);
  }
  return out;
}, { url: session.url, token: session.token });
console.log(r, ((performance.now() - t0) / 1000).toFixed(2));
await session.finish();
await browser.close();
await server.close();
