import { describe, expect, it } from 'vitest';
import { GRAPH_VERSION, parseGraphInfo } from '../../../src/lib/infer/graph-store';
import { externalDataFileNames } from '../../../src/lib/onnx/external-data';

const good = { version: GRAPH_VERSION, chunks: 2, linear: 'matmul', bytes: 1024, builtAt: 0 };
const where = 'onnx/ctlab-graph.json of tiny';

describe('graph descriptions read back from the cache', () => {
  it('takes a well-formed one as it is', () => {
    expect(parseGraphInfo(JSON.stringify(good), where)).toEqual(good);
  });

  it('refuses a chunk count that would name a billion files, naming the file', () => {
    expect(() => parseGraphInfo(JSON.stringify({ ...good, chunks: 1e9 }), where)).toThrow(
      'onnx/ctlab-graph.json of tiny: chunks must be an integer from 0 to 4096 (external data files of at most 1 GiB), got 1000000000',
    );
    for (const chunks of [-1, 1.5, '3', null])
      expect(() => parseGraphInfo(JSON.stringify({ ...good, chunks }), where)).toThrow(/chunks must be/);
  });

  it('refuses other fields that are not what ctlab writes', () => {
    expect(() => parseGraphInfo('{', where)).toThrow(/of tiny is not valid JSON/);
    expect(() => parseGraphInfo('[]', where)).toThrow(/version must be an integer/);
    expect(() => parseGraphInfo(JSON.stringify({ ...good, linear: 'conv' }), where)).toThrow(/linear must be "matmul" or "matmulnbits"/);
    expect(() => parseGraphInfo(JSON.stringify({ ...good, bytes: -5 }), where)).toThrow(/bytes must be a non-negative integer/);
  });

  it('externalDataFileNames refuses a count beyond any real graph instead of building it', () => {
    expect(externalDataFileNames('model.onnx', 2)).toEqual(['model.onnx_data', 'model.onnx_data_1']);
    expect(() => externalDataFileNames('model.onnx', 1e9)).toThrow(
      'model.onnx: 1000000000 external data files is not a valid count (0 to 4096)',
    );
  });
});
