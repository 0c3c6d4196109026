// @ts-check
// A stored variant's files written into a folder: the page's compress worker sends them from its
// cache to the local server's upload endpoint (bin/lib/upload.mjs), which writes them here.
import { join } from 'node:path';

/**
 * @param {import('./command.mjs').Context} ctx
 * @param {string} key the variant in the page's cache
 * @param {string} dir
 * @returns {Promise<{ files: { path: string, bytes: number }[], bytes: number, ms: number }>}
 */
export async function exportVariant(ctx, key, dir) {
  if (!ctx.uploads) throw new Error('exporting a variant needs the local server');
  const start = performance.now();
  const files = await ctx.page.variantFiles({ key });
  const session = ctx.uploads.open(dir, files, (path, done, total) => {
    if (ctx.quiet) return;
    if (done < total) ctx.lines.update(`export:${path}`, { label: `exporting ${path}:`, done, total, unit: 'bytes' });
    else ctx.lines.finish(`export:${path}`, `wrote ${join(dir, path)} (${total} bytes)`);
  });
  try {
    await ctx.page.variantUpload({ key, url: session.url, token: session.token });
    await session.finish();
  } finally {
    await session.close();
  }
  return { files, bytes: files.reduce((s, f) => s + f.bytes, 0), ms: performance.now() - start };
}
