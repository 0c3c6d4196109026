// @ts-check
// A stored variant's files written into a folder. Each leaves the page by the browser's download
// path (Chromium writes the file's Blob to disk itself, several times faster than the page can
// upload it) and is saved here under its announced path, which must stay inside the folder.
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { confined, linkEscape } from './out-paths.mjs';

/**
 * @param {import('./command.mjs').Context} ctx
 * @param {string} key the variant in the page's cache
 * @param {string} dir
 * @returns {Promise<{ files: { path: string, bytes: number }[], bytes: number, ms: number }>}
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
  for (const [i, f] of files.entries()) {
    const target = targets[i];
    if (!ctx.quiet) ctx.lines.update(`export:${f.path}`, { label: `exporting ${f.path}:`, done: 0, total: f.bytes, unit: 'bytes' });
    const d = await download(() => ctx.page.variantDownload({ key, path: f.path }));
    const failure = await d.failure();
    if (failure) throw new Error(`exporting ${f.path}: the download failed (${failure})`);
    await d.saveAs(target);
    await d.delete();
    const size = statSync(target).size;
    if (size !== f.bytes) throw new Error(`export incomplete: ${f.path} has ${size} of ${f.bytes} bytes`);
    if (!ctx.quiet) ctx.lines.finish(`export:${f.path}`, `wrote ${join(dir, f.path)} (${f.bytes} bytes)`);
  }
  return { files, bytes: files.reduce((s, f) => s + f.bytes, 0), ms: performance.now() - start };
}
