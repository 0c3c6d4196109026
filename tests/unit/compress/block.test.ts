import { describe, expect, it } from 'vitest';
import { attention, blockForward, linearF32, mlp } from '../../../src/lib/compress/reference/block';
import { BLOCK_TAPS } from '../../../src/lib/model/spec';
import { linearRef, referenceBlock } from '../../reference/reference-forward';
import { normals } from './fixtures';
import { tinySpec, tinyWeights } from './tiny-model';

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / (s + 1e-12);
}

describe('TypeScript block forward', () => {
  it('linearF32 equals the reference linear for odd and even shapes, with bias', () => {
    for (const [S, inF, outF] of [
      [1, 3, 1],
      [5, 7, 3],
      [6, 16, 8],
    ]) {
      const x = normals(S * inF, 1);
      const w = normals(outF * inF, 2);
      const b = normals(outF, 3);
      expect(maxRel(linearF32(x, w, S, inF, outF, b), linearRef(x, w, S, inF, outF, b))).toBeLessThan(1e-6);
    }
  });

  it('blockForward matches referenceBlock (output and every tap), and stops early on request', () => {
    const spec = tinySpec();
    const weights = tinyWeights(spec);
    const S = 11;
    const hidden = normals(S * spec.hiddenSize, 4);
    const prefix = 'model.layers.1.';
    const lw = new Map([...weights].filter(([n]) => n.startsWith(prefix)).map(([n, v]) => [n.slice(prefix.length), v]));
    const ref = referenceBlock(spec, 1, weights, hidden, [...Array(S).keys()]);
    const got = blockForward(spec, 1, lw, hidden, S);
    expect(maxRel(got.out!, ref.out)).toBeLessThan(1e-5);
    for (const t of BLOCK_TAPS) expect(maxRel(got[t]!, ref[t]), t).toBeLessThan(1e-5);
    const early = blockForward(spec, 1, lw, hidden, S, 'o_proj_in');
    expect(early.out).toBeUndefined();
    expect(early.gate_proj_in).toBeUndefined();
    expect(maxRel(early.o_proj_in!, ref.o_proj_in)).toBeLessThan(1e-5);
    // The sub-blocks AWQ scores candidates on.
    const a = attention(spec, 1, lw, ref.q_proj_in, S).out!;
    const m = mlp(spec, lw, ref.gate_proj_in, S).out!;
    const h1 = hidden.map((v, i) => v + a[i]);
    expect(
      maxRel(
        h1.map((v, i) => v + m[i]),
        ref.out,
      ),
    ).toBeLessThan(1e-5);
  });
});
