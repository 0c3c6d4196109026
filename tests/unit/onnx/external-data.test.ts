import { describe, expect, it } from 'vitest';
import { externalDataFileNames, layoutExternalData } from '../../../src/lib/onnx/external-data';

describe('external data layout', () => {
  it('names chunks as transformers.js does', () => {
    expect(externalDataFileNames('model.onnx', 3)).toEqual(['model.onnx_data', 'model.onnx_data_1', 'model.onnx_data_2']);
    expect(externalDataFileNames('model_q4.onnx', 1)).toEqual(['model_q4.onnx_data']);
  });

  it('aligns offsets and fills chunks up to the limit', () => {
    const layout = layoutExternalData([10, 100, 30, 64, 1], { maxChunkBytes: 200, align: 64 });
    expect(layout.placements).toEqual([
      { chunk: 0, offset: 0, length: 10 },
      { chunk: 0, offset: 64, length: 100 },
      { chunk: 1, offset: 0, length: 30 }, // 192 + 30 > 200
      { chunk: 1, offset: 64, length: 64 },
      { chunk: 1, offset: 128, length: 1 },
    ]);
    expect(layout.chunkBytes).toEqual([164, 129]);
    expect(layout.files).toEqual(['model.onnx_data', 'model.onnx_data_1']);
  });

  it('gives a tensor larger than the limit a chunk of its own', () => {
    const layout = layoutExternalData([8, 500, 8], { maxChunkBytes: 100, align: 4 });
    expect(layout.placements.map((p) => [p.chunk, p.offset])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    expect(layout.chunkBytes).toEqual([8, 500, 8]);
  });

  it('keeps everything in one chunk by default (1 GiB, 64-byte alignment)', () => {
    const layout = layoutExternalData([3, 5, 7]);
    expect(layout.files).toEqual(['model.onnx_data']);
    expect(layout.placements.map((p) => p.offset)).toEqual([0, 64, 128]);
  });

  it('never overlaps and never exceeds the limit except for oversized tensors', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const sizes = Array.from({ length: 300 }, () => next() % 5000);
    const max = 20_000;
    const layout = layoutExternalData(sizes, { maxChunkBytes: max, align: 256 });
    const ends = new Map<number, number>();
    layout.placements.forEach((p, i) => {
      expect(p.offset % 256).toBe(0);
      expect(p.length).toBe(sizes[i]);
      expect(p.offset).toBeGreaterThanOrEqual(ends.get(p.chunk) ?? 0);
      ends.set(p.chunk, p.offset + p.length);
      expect(p.offset + p.length).toBeLessThanOrEqual(layout.chunkBytes[p.chunk]);
    });
    for (const bytes of layout.chunkBytes) expect(bytes).toBeLessThanOrEqual(max);
  });
});
