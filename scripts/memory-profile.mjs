// @ts-check
// Where the browser's memory goes while a model shape loads and generates on WASM: a diagnostic
// companion of `ctlab bench scale` (which only reports the peak). Per phase it prints the PSS of
// each browser process by type, the V8 heap and ArrayBuffer backing stores of every worker (CDP
// Runtime.getHeapUsage), the size of ORT's WebAssembly memory, and the same after a forced GC (what
// was garbage rather than held). Run after `npx vite build`:
//   node scripts/memory-profile.mjs --model-dir ~/.cache/ctlab/shapes/full/HuggingFaceTB--SmolLM2-135M-Instruct \
//     --port 48420 --prompt-tokens 64 --new-tokens 8 [--gc-before-generate]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../server/chromium.js';
import { syntheticPrompt } from '../bin/lib/bench-scale.mjs';
import { browserPids, processMemory } from '../bin/lib/proc-memory.mjs';
import { serveApp } from '../bin/lib/server.mjs';

const { values } = parseArgs({
  options: {
    'model-dir': { type: 'string' },
    port: { type: 'string', default: '48420' },
    'prompt-tokens': { type: 'string', default: '64' },
    'new-tokens': { type: 'string', default: '8' },
    // Forced collections before generating show what was garbage, but hide what a real run carries.
    'gc-before-generate': { type: 'boolean', default: false },
  },
});
if (!values['model-dir']) throw new Error('--model-dir is required');
const root = resolve(import.meta.dirname, '..');
const modelDir = resolve(values['model-dir']);
const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
const MB = (/** @type {number} */ b) => (b / 1e6).toFixed(0);

/** PSS of the browser's processes, summed by Chromium process type. */
function byType(/** @type {string} */ profile) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const pid of browserPids(profile)) {
    const m = processMemory(pid);
    if (!m) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
    const key = type === 'utility' ? 'utility' : type;
    out[key] = (out[key] ?? 0) + m.bytes;
  }
  out.total = Object.values(out).reduce((a, b) => a + b, 0);
  return out;
}

// Records every WebAssembly.Memory a worker creates, so its size can be read later: ORT keeps its
// module private. Installed when the worker starts, long before ORT instantiates its runtime.
function hookWasmMemory() {
  const g = /** @type {any} */ (globalThis);
  if (g.__mems) return;
  g.__mems = [];
  const Original = WebAssembly.Memory;
  const Hooked = function (/** @type {WebAssembly.MemoryDescriptor} */ d) {
    const m = new Original(d);
    g.__mems.push(m);
    return m;
  };
  Hooked.prototype = Original.prototype;
  /** @type {any} */ (WebAssembly).Memory = Hooked;
}

/** Bytes of the WebAssembly memories `hookWasmMemory` recorded in this worker. */
function wasmBytes() {
  /** @type {WebAssembly.Memory[]} */
  const mems = /** @type {any} */ (globalThis).__mems ?? [];
  return mems.reduce((a, m) => a + m.buffer.byteLength, 0);
}

const shapeServer = await serveApp({ root, dist: join(root, 'dist'), modelDirs: [modelDir], port: Number(values.port) });
const profile = mkdtempSync(join(tmpdir(), 'ctlab-memprof-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  /** @type {import('playwright-core').Worker[]} */
  const workers = [];
  page.on('worker', (w) => {
    if (!/\.worker/.test(w.url())) return;
    workers.push(w);
    w.evaluate(hookWasmMemory).catch(() => undefined);
  });
  /** @type {number[]} */
  const tokenTimes = [];
  await page.exposeFunction('__ctlabProgress', (/** @type {any} */ e) => {
    if (e?.phase === 'text') tokenTimes.push(performance.now());
  });
  page.on('crash', () => console.error('[page crashed]'));
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${shapeServer.origin}/?automation=1`);
  await page.waitForFunction(() => 'ctlab' in window, undefined, { timeout: 60_000 });

  // CDP into each worker through the page's session (non-flattened target messages).
  const cdp = await context.newCDPSession(page);
  let nextId = 1;
  /** @type {Map<number, (r: any) => void>} */
  const pending = new Map();
  cdp.on('Target.receivedMessageFromTarget', (/** @type {any} */ e) => {
    const msg = JSON.parse(e.message);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)?.(msg.result ?? msg.error);
      pending.delete(msg.id);
    }
  });
  /** @type {Map<string, string>} */
  const sessions = new Map();
  async function workerSessions() {
    const { targetInfos } = /** @type {any} */ (await cdp.send('Target.getTargets'));
    // Our comlink workers only: ORT's pthread workers sit in Atomics.wait and would not answer.
    for (const t of targetInfos.filter((/** @type {any} */ t) => t.type === 'worker' && /ctlab|\.worker/.test(`${t.title} ${t.url}`))) {
      if (sessions.has(t.targetId)) continue;
      const { sessionId } = /** @type {any} */ (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false }));
      sessions.set(t.targetId, sessionId);
    }
    return [...sessions.values()];
  }
  const call = (/** @type {string} */ sessionId, /** @type {string} */ method, params = {}) =>
    new Promise((res) => {
      const id = nextId++;
      pending.set(id, res);
      cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(() => res(null));
    });

  async function snapshot(/** @type {string} */ label, gc = false) {
    const ids = await workerSessions();
    if (gc) {
      for (const s of ids) await call(s, 'HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
    }
    let heap = 0;
    let backing = 0;
    for (const s of ids) {
      const u = /** @type {any} */ (await call(s, 'Runtime.getHeapUsage'));
      heap += u?.usedSize ?? 0;
      backing += u?.backingStorageSize ?? 0;
    }
    const pageHeap = /** @type {any} */ (await cdp.send('Runtime.getHeapUsage'));
    let wasm = 0;
    for (const w of workers) wasm += await w.evaluate(wasmBytes).catch(() => 0);
    const pss = byType(profile);
    const row = {
      label,
      pss: Object.fromEntries(Object.entries(pss).map(([k, v]) => [k, Number(MB(v))])),
      workerHeapMB: Number(MB(heap)),
      workerArrayBuffersMB: Number(MB(backing)),
      pageHeapMB: Number(MB(pageHeap.usedSize)),
      pageArrayBuffersMB: Number(MB(pageHeap.backingStorageSize ?? 0)),
      wasmMemoryMB: Number(MB(wasm)),
    };
    console.log(JSON.stringify(row));
    return row;
  }

  const api = (/** @type {string} */ m, /** @type {unknown} */ arg) =>
    page.evaluate(([m, a]) => /** @type {any} */ (window).ctlab[m](a), /** @type {[string, unknown]} */ ([m, arg]));
  const source = { kind: 'url', url: shapeServer.modelUrls[0] };
  const params = /** @type {number} */ (await api('params', { config }));
  console.log(JSON.stringify({ model: modelDir, layers: config.num_hidden_layers, params, fp32MB: Number(MB(4 * params)) }));
  await snapshot('start');
  await api('download', { source });
  await snapshot('downloaded');
  const gcFirst = values['gc-before-generate'] === true;
  if (gcFirst) await snapshot('downloaded+gc', true);
  await api('load', { source, device: 'wasm' });
  await snapshot('loaded');
  if (gcFirst) await snapshot('loaded+gc', true);

  // PSS sampled every 100 ms while generating, with the time of each streamed piece of text.
  const newTokens = Number(values['new-tokens']);
  const request = {
    prompt: syntheticPrompt(Number(values['prompt-tokens'])),
    maxNewTokens: newTokens,
    minNewTokens: newTokens,
    temperature: 0,
  };
  /** @type {{ t: number, total: number, renderer: number }[]} */
  const samples = [];
  const t0 = performance.now();
  const timer = setInterval(() => {
    const p = byType(profile);
    samples.push({ t: performance.now(), total: p.total, renderer: p.renderer ?? 0 });
  }, 100);
  const gen = /** @type {any} */ (await api('generate', { source, device: 'wasm', request }));
  console.log(
    JSON.stringify({
      generateMs: Math.round(performance.now() - t0),
      prefillMs: Math.round(gen.prefillMs),
      decodeMs: Math.round(gen.decodeMs),
    }),
  );
  clearInterval(timer);
  const peak = samples.reduce((a, s) => Math.max(a, s.total), 0);
  const tokens = tokenTimes.filter((t) => t >= t0);
  const at = (/** @type {number} */ t) => samples.filter((s) => s.t <= t).at(-1);
  console.log(
    JSON.stringify({
      generating: {
        peakTotalMB: Number(MB(peak)),
        ratio: Number((peak / (4 * params)).toFixed(2)),
        perToken: tokens.map((t, i) => ({ i, ms: Math.round(t - t0), totalMB: Number(MB(at(t)?.total ?? 0)) })),
      },
    }),
  );
  await snapshot('generated');
  await snapshot('generated+gc', true);
} finally {
  await context.close();
  await shapeServer.close();
  rmSync(profile, { recursive: true, force: true });
}
