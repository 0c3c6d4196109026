import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import sirv from 'sirv';

type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Files whose presence marks a folder as a model the page can offer. */
const MODEL_MARKERS = ['config.json', 'tokenizer.json'];

export interface LocalModelEntry {
  name: string;
  files: { name: string; size: number }[];
}

/** Lists the immediate sub-folders of `dir` that look like Hugging Face model folders. */
export function listLocalModels(dir: string): LocalModelEntry[] {
  if (!existsSync(dir)) return [];
  const out: LocalModelEntry[] = [];
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

/** Where the dev and preview servers look for local models. */
export function resolveModelsDir(root: string): string | null {
  const configured = process.env.CTLAB_MODELS_DIR;
  if (configured) return resolve(root, configured);
  const fallback = resolve(root, '../shared/models');
  return existsSync(fallback) ? fallback : null;
}

/**
 * Serves `dir` under `/models/` with byte ranges and ETags (sirv handles both), and
 * `/models/index.json` as the list of model folders found there.
 */
export function modelsMiddleware(dir: string | null): Middleware {
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
