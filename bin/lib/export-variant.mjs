// @ts-check
// A stored variant's files written into a folder, fetched from the page in base64 slices.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * @param {import('./command.mjs').Context} ctx
 * @param {string} key the variant in the page's cache
 * @param {string} dir
 */
export async function exportVariant(ctx, key, dir) {
  const files = await ctx.page.variantFiles({ key });
  const slice = 8 * 1024 * 1024;
  for (const f of files) {
    const target = join(dir, f.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, new Uint8Array(0));
    for (let offset = 0; offset < f.bytes; offset += slice) {
      const length = Math.min(slice, f.bytes - offset);
      const b64 = await ctx.page.variantChunk({ key, path: f.path, offset, length });
      appendFileSync(target, Buffer.from(b64, 'base64'));
      if (!ctx.quiet && offset + length < f.bytes)
        ctx.lines.update(`export:${f.path}`, { label: `exporting ${f.path}:`, done: offset + length, total: f.bytes, unit: 'bytes' });
    }
    if (!ctx.quiet) ctx.lines.finish(`export:${f.path}`, `wrote ${target} (${f.bytes} bytes)`);
  }
  return files;
}
