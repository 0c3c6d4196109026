// @ts-check
// Plain JavaScript so both vite.config.ts and the `ctlab` CLI (plain Node) can import it.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { insideRoot, serveFolder } from './safe-files.js';

/**
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 * @typedef {(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void} Middleware
 * @typedef {{ name: string, files: { name: string, size: number }[] }} LocalModelEntry
 */

/** Files whose presence marks a folder as a model (or tokenizer) folder. */
const MODEL_MARKERS = ['config.json', 'tokenizer.json'];

/**
 * The entries of `folder` that may be shown: no dotfiles, nothing a link reaches outside `realRoot`,
 * and an entry that cannot be read (a dangling link, no permission) is skipped, not fatal.
 * @param {string} realRoot
 * @param {string} folder
 * @returns {{ name: string, path: string, dir: boolean, size: number }[]}
 */
function visibleEntries(realRoot, folder) {
  let names;
  try {
    names = readdirSync(folder).sort();
  } catch {
    return [];
  }
  const out = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const real = insideRoot(realRoot, join(folder, name));
    if (!real) continue;
    try {
      const st = statSync(real);
      if (st.isDirectory() || st.isFile()) out.push({ name, path: real, dir: st.isDirectory(), size: st.size });
    } catch {
      // unreadable: leave it out
    }
  }
  return out;
}

/**
 * Lists the immediate sub-folders of `dir` that look like Hugging Face model folders.
 * @param {string} dir
 * @returns {LocalModelEntry[]}
 */
export function listLocalModels(dir) {
  if (!existsSync(dir)) return [];
  let realRoot;
  try {
    realRoot = realpathSync(dir);
  } catch {
    return [];
  }
  /** @type {LocalModelEntry[]} */
  const out = [];
  for (const folder of visibleEntries(realRoot, dir)) {
    if (!folder.dir) continue;
    const files = visibleEntries(realRoot, folder.path)
      .filter((f) => !f.dir)
      .map((f) => ({ name: f.name, size: f.size }));
    if (files.some((f) => MODEL_MARKERS.includes(f.name))) out.push({ name: folder.name, files });
  }
  return out;
}

/**
 * Where the dev and preview servers look for local models: `CTLAB_MODELS_DIR`, else `../shared/models`.
 * @param {string} root
 * @returns {string | null}
 */
export function resolveModelsDir(root) {
  const configured = process.env.CTLAB_MODELS_DIR;
  if (configured) return resolve(root, configured);
  const fallback = resolve(root, '../shared/models');
  return existsSync(fallback) ? fallback : null;
}

/**
 * Serves `dir` under `/models/` with byte ranges and ETags (no dotfiles, no links out), and
 * `/models/index.json` as the list of model folders found there.
 * @param {string | null} dir
 * @returns {Middleware}
 */
export function modelsMiddleware(dir) {
  const files = dir ? serveFolder(dir) : null;
  return (req, res, next) => {
    const url = req.url ?? '';
    if (!url.startsWith('/models/')) return next();
    if (url.split('?')[0] === '/models/index.json') {
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(JSON.stringify({ models: dir ? listLocalModels(dir) : [] }));
      return;
    }
    if (!files) return next();
    req.url = url.slice('/models'.length);
    files(req, res, () => {
      req.url = url;
      res.statusCode = 404;
      res.end('not found');
    });
  };
}
