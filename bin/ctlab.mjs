#!/usr/bin/env node
// @ts-check
// The headless CLI: serves the built app on localhost, drives it in headless Chromium through
// its `window.ctlab` API, streams progress to stderr and prints results on stdout. It adds no
// second code path: every command runs the same src/lib code the page runs.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openApp } from './lib/browser.mjs';
import { serveApp } from './lib/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `ctlab — Compressed Trust Lab from the command line

Usage:
  ctlab download --model M [--json]     download (or resume) a model into the cache
  ctlab models [--json]                 list cached models
  ctlab delete --model M                remove a cached model

M is a local model folder, an http(s) base URL, or a Hugging Face id (org/name[@revision]).
Common options:
  --profile DIR   browser profile holding the cache (default ~/.cache/ctlab/profile)
  --port N        local port of the app (default 47613; the cache belongs to this origin)
  --json          machine-readable output on stdout
  --quiet         no progress on stderr
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    profile: { type: 'string' },
    port: { type: 'string', default: '47613' },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const command = positionals[0];
if (values.help || !command) {
  process.stdout.write(USAGE);
  process.exit(command || values.help ? 0 : 2);
}

/** @param {string} msg */
function fail(msg) {
  process.stderr.write(`ctlab: ${msg}\n`);
  process.exit(1);
}

async function ensureBuilt() {
  const dist = join(root, 'dist');
  if (existsSync(join(dist, 'index.html'))) return dist;
  process.stderr.write('ctlab: building the app (first run)…\n');
  const { build } = await import('vite');
  await build({ root, logLevel: 'warn' });
  return dist;
}

/** @param {string | undefined} m */
function modelArg(m) {
  if (!m) fail('--model is required');
  const model = /** @type {string} */ (m);
  if (existsSync(model) && statSync(model).isDirectory()) return { kind: 'dir', path: resolve(model) };
  if (/^https?:\/\//.test(model)) return { kind: 'url', url: model };
  if (/^[./~]/.test(model) || model.split('/').length > 2) fail(`no such model folder: ${model}`);
  return { kind: 'hub', id: model };
}

let lastProgress = '';
/** @param {any} e */
function progress(e) {
  if (values.quiet || !e) return;
  const pct = e.total ? ` ${((100 * e.loaded) / e.total).toFixed(0)}%` : '';
  const line = `${e.file ?? e.phase}: ${e.phase}${pct}`;
  if (line !== lastProgress) process.stderr.write(`${line}\n`);
  lastProgress = line;
}

async function main() {
  const spec = command === 'models' ? null : modelArg(values.model);
  const dist = await ensureBuilt();
  const server = await serveApp({ root, dist, modelDirs: spec?.kind === 'dir' && spec.path ? [spec.path] : [], port: Number(values.port) });
  const profile = resolve(values.profile ?? join(homedir(), '.cache', 'ctlab', 'profile'));
  mkdirSync(profile, { recursive: true });
  const app = await openApp({
    origin: server.origin,
    profile,
    onProgress: progress,
    onLog: (l) => values.quiet || process.stderr.write(`${l}\n`),
  });
  const source = !spec ? null : spec.kind === 'dir' ? { kind: 'url', url: server.modelUrls[0] } : spec;
  try {
    let result;
    switch (command) {
      case 'download':
        result = await app.call('download', { source });
        break;
      case 'models':
        result = await app.call('models', {});
        break;
      case 'delete':
        result = await app.call('delete', { source });
        break;
      default:
        fail(`unknown command "${command}"\n\n${USAGE}`);
    }
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await app.close();
    await server.close();
  }
}

/** Errors from the page arrive wrapped by Playwright with the page's stack; people need the message. */
function cleanError(/** @type {unknown} */ err) {
  const text = err instanceof Error ? err.message : String(err);
  const first = text
    .split('\n')[0]
    .replace(/^page\.evaluate: /, '')
    .replace(/^[A-Za-z]*Error: /, '');
  return first;
}

main().catch((err) => fail(cleanError(err)));
