import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { DataFile, EvalPrompt, EvalRecord, BaseItem } from '../../../src/lib/eval/types';

/** ../shared/data from the project root (the layout every developer and CI run has). */
export const SHARED_DATA =
  [resolve(import.meta.dirname, '../../../../shared/data'), '/work/shared/data'].find((p) => existsSync(p)) ?? '/work/shared/data';
/** DecodingTrust's own published outputs: the shared samples and the extra files kept in the repository. */
export const DT_OUTPUTS = join(SHARED_DATA, 'decodingtrust-outputs');
export const DT_FIXTURES = resolve(import.meta.dirname, '../../fixtures/decodingtrust-outputs');
export const OFFLINE_DATA = resolve(import.meta.dirname, '../../../public/offline-data');

/** Every file under `root/sub` (recursively), as loader input with data-root relative paths. */
export function readTree(root: string, sub = ''): DataFile[] {
  const out: DataFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else
        out.push({
          path: relative(root, p).split('\\').join('/'),
          text: p.endsWith('.npy') ? new Uint8Array(readFileSync(p)) : readFileSync(p, 'utf8'),
        });
    }
  };
  walk(join(root, sub));
  return out;
}

export function readOne(root: string, path: string): DataFile {
  const p = join(root, path);
  return { path, text: p.endsWith('.npy') ? new Uint8Array(readFileSync(p)) : readFileSync(p, 'utf8') };
}

/** A record for `item` with the given output (the item's first prompt). */
export function rec<I extends BaseItem>(item: I, prompt: EvalPrompt, output: string, sample = 0): EvalRecord<I> {
  return { item, prompt, output, sample };
}

/** Inserts `line` before 1-based line `at` of a text. */
export function injectLine(text: string, at: number, line: string): string {
  const lines = text.split('\n');
  lines.splice(at - 1, 0, line);
  return lines.join('\n');
}
