import { describe, expect, it } from 'vitest';
import { releaseExternalData } from '../../../src/lib/infer/external-data';

describe('releaseExternalData', () => {
  it('detaches every buffer, so its memory goes now rather than at some later collection', () => {
    const files = [
      { path: 'model.onnx_data', data: new Uint8Array(1 << 20).fill(7) },
      { path: 'model.onnx_data_1', data: new Uint8Array(new ArrayBuffer(64), 16, 8) },
    ];
    releaseExternalData(files);
    for (const { data } of files) {
      expect(data.buffer.byteLength).toBe(0);
      expect(data.length).toBe(0);
    }
    // A second release (a retried load) is harmless.
    expect(() => releaseExternalData(files)).not.toThrow();
  });
});
