import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../../src/lib/model/safetensors';
import { bytesSource } from '../../../src/lib/storage/byte-source';
import { BASE_DTYPES_KEY, exportedSafetensors } from '../../../src/lib/variants/export-dtype';
import { writeExportedSafetensors } from '../../../src/node/export-encode';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function folder(): string {
  const d = mkdtempSync(join(tmpdir(), 'ctlab-encode-'));
  dirs.push(d);
  return d;
}

describe('writeExportedSafetensors (the CLI side of an export)', () => {
  it('writes the bytes the page encoder gives, across many slices and lanes', async () => {
    // 3.2 MB of fp32 in the big tensor: several 1 MB slices in flight at once.
    const big = Float32Array.from({ length: 800_003 }, (_, i) => Math.sin(i) * 3);
    const small = Float32Array.from({ length: 13 }, (_, i) => -i / 7);
    const cached = writeSafetensors(
      [
        { name: 'big', dtype: 'F32', shape: [800_003], data: new Uint8Array(big.buffer) },
        { name: 'small', dtype: 'F32', shape: [13], data: new Uint8Array(small.buffer) },
      ],
      { format: 'pt', [BASE_DTYPES_KEY]: JSON.stringify({ big: 'BF16', small: 'F16' }) },
    );
    const dir = folder();
    const stored = join(dir, 'stored.safetensors');
    const target = join(dir, 'model.safetensors');
    writeFileSync(stored, cached);
    const want = await exportedSafetensors(bytesSource('model.safetensors', cached));
    const bytes = await writeExportedSafetensors(stored, target);
    expect(bytes).toBe(want.size);
    // Compared as buffers: a deep equality of 1.6 MB of elements is too slow for a unit test.
    expect(Buffer.compare(readFileSync(target), Buffer.from(await want.read(0, want.size)))).toBe(0);
  }, 30_000);

  it('a file without base dtypes is moved into place unchanged', async () => {
    const cached = writeSafetensors([{ name: 'a', dtype: 'F32', shape: [3], data: new Uint8Array(12).fill(7) }], { format: 'pt' });
    const dir = folder();
    const stored = join(dir, 'stored.safetensors');
    const target = join(dir, 'model.safetensors');
    writeFileSync(stored, cached);
    expect(await writeExportedSafetensors(stored, target)).toBe(cached.byteLength);
    expect(existsSync(stored)).toBe(false);
    expect(new Uint8Array(readFileSync(target))).toEqual(cached);
  });
});
