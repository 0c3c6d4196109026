// @ts-check
// Plain JavaScript so both vite.config.ts and the `ctlab` CLI (plain Node) can import it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sirv from 'sirv';

/**
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 * @typedef {(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void} Middleware
 * @typedef {{ name: string, files: { name: string, size: number }[] }} LocalModelEntry
 */

/** Files whose presence marks a folder as a model (or tokenizer) folder. */
const MODEL_MARKERS = ['config.json', 'tokenizer.json'];

/**
 * Lists the immediate sub-folders of `dir` that look like Hugging Face model folders.
 * @param {string} dir
 * @returns {LocalModelEntry[]}
 */
export function listLocalModels(dir) {
  if (!existsSync(dir)) return [];
  /** @type {LocalModelEntry[]} */
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const folder = join(dir, name);
    if (!statSync(folder).isDirectory()) continue;
    const files = readdirSync(folder)
      .filter((f) => statSync(join(folder, f)).isFile())
      .map((f) => ({ name: f, size: statSync(join(folder, f)).size }));
    if (files.some((f) => MODEL_MARKERS.includes(f.name))) out.push({ name, files });
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
 * Serves `dir` under `/models/` with byte ranges and ETags (sirv handles both), and
 * `/models/index.json` as the list of model folders found there.
 * @param {string | null} dir
 * @returns {Middleware}
 */
export function modelsMiddleware(dir) {
  const files = dir ? sirv(dir, { dev: true, etag: true, dotfiles: false }) : null;
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
