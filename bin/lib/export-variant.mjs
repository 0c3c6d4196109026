// @ts-check
// A stored variant's files written into a folder. Each leaves the page by the browser's download
// path (Chromium writes the file's Blob to disk itself, several times faster than the page can
// upload it) and is saved here under its announced path, which must stay inside the folder.
import { constants, copyFileSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureNodeBuilt } from './build.mjs';
import { confined, linkEscape } from './out-paths.mjs';

/**
 * The one exported file the page re-encodes (fp32 in the cache, the base's dtypes in the export).
 * It leaves the page as stored and is encoded here by the same encoder: a page reads its cache's
 * Blobs at tens of MB/s, while the download path copies them natively at hundreds.
 */
const ENCODED_HERE = 'model.safetensors';

/**
 * `writeExportedSafetensors` of the Node build (built when stale, like `--runtime node`).
 * @param {string} root the repository
 */
async function nodeEncoder(root) {
  const engine = await ensureNodeBuilt(root);
  /** @type {typeof import('../../src/node/export-encode')} */
  const mod = await import(pathToFileURL(join(dirname(engine), 'export-encode.mjs')).href);
  return mod.writeExportedSafetensors;
}

/**
 * @param {import('./command.mjs').Context} ctx
 * @param {string} key the variant in the page's cache
 * @param {string} dir
 * @returns {Promise<{ files: { path: string, bytes: number, ms: number }[], bytes: number, ms: number }>}
 */
export async function exportVariant(ctx, key, dir) {
  const download = ctx.download;
  if (!download) throw new Error('exporting a variant needs the browser');
  const start = performance.now();
  const files = await ctx.page.variantFiles({ key });
  mkdirSync(dir, { recursive: true });
  const root = realpathSync(resolve(dir));
  // Every path checked before anything is written.
  const targets = files.map((f) => {
    if (!Number.isSafeInteger(f.bytes) || f.bytes < 0) throw new Error(`refusing to export ${f.path}: size ${f.bytes}`);
    const target = confined(root, f.path);
    const escape = linkEscape(root, target, f.path);
    if (escape) throw new Error(`refusing to export: ${escape}`);
    return target;
  });
  /** @type {{ path: string, bytes: number, ms: number }[]} */
  const written = [];
  const encode = files.some((f) => f.path === ENCODED_HERE) ? await nodeEncoder(ctx.root) : null;
  /** @type {Promise<void>[]} */
  const encodings = [];
  // The file encoded here goes first, so that its encoding overlaps the other files' downloads.
  const order = [...files.keys()].sort((a, b) => Number(files[b].path === ENCODED_HERE) - Number(files[a].path === ENCODED_HERE));
  for (const i of order) {
    const f = files[i];
    const target = targets[i];
    const fileStart = performance.now();
    if (!ctx.quiet) ctx.lines.update(`export:${f.path}`, { label: `exporting ${f.path}:`, done: 0, total: f.bytes, unit: 'bytes' });
    const stored = encode !== null && f.path === ENCODED_HERE;
    const d = await download(() => ctx.page.variantDownload({ key, path: f.path, stored }), downloadName(f.path));
    const failure = await d.failure();
    if (failure) throw new Error(`exporting ${f.path}: the download failed (${failure})`);
    const from = await d.path();
    const finish = () => {
      const size = statSync(target).size;
      if (size !== f.bytes) throw new Error(`export incomplete: ${f.path} has ${size} of ${f.bytes} bytes`);
      written.push({ path: f.path, bytes: f.bytes, ms: performance.now() - fileStart });
      if (!ctx.quiet) ctx.lines.finish(`export:${f.path}`, `wrote ${join(dir, f.path)} (${f.bytes} bytes)`);
    };
    if (stored) {
      const encoding = encode(from, target).then(async () => {
        if (existsSync(from)) await d.delete();
        finish();
      });
      // Awaited below; a failure meanwhile must not count as unhandled.
      encoding.catch(() => undefined);
      encodings.push(encoding);
    } else {
      moveDownload(from, target);
      finish();
    }
  }
  await Promise.all(encodings);
  written.sort((a, b) => a.path.localeCompare(b.path));
  return { files: written, bytes: files.reduce((s, f) => s + f.bytes, 0), ms: performance.now() - start };
}

/**
 * The name the page gives an exported file's download (`variantDownload`): its path with every
 * `/` as `__`, since a download has no folders.
 * @param {string} path
 */
function downloadName(path) {
  return path.replace(/\//g, '__');
}

/**
 * The browser's finished download moved into place: a rename where both lie on one file system
 * (no second write of the bytes, which `saveAs`'s copy costs), a copy where they do not. A link
 * already at the target is replaced, never followed.
 * @param {string} from @param {string} to
 */
function moveDownload(from, to) {
  try {
    renameSync(from, to);
  } catch (e) {
    if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EXDEV') throw e;
    rmSync(to, { force: true });
    copyFileSync(from, to, constants.COPYFILE_EXCL);
    unlinkSync(from);
  }
}
