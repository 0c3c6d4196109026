import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIP_PARAMS } from '../../../src/lib/gpu/clip';
import { GEMM_PARAMS } from '../../../src/lib/gpu/gemm';
import { PACK_PARAMS } from '../../../src/lib/gpu/pack';
import { defineParams, type ParamFields, type ParamsLayout } from '../../../src/lib/gpu/params';
import { NM_PARAMS, ROWSELECT_PARAMS } from '../../../src/lib/gpu/prune';
import { QUANT_PARAMS } from '../../../src/lib/gpu/quant';
import { composeWgsl } from '../../../src/lib/gpu/shader';
import { BLOCK_PARAMS, SELECT_PARAMS } from '../../../src/lib/gpu/solver';
import { STATS_PARAMS } from '../../../src/lib/gpu/stats';

describe('defineParams', () => {
  const P = defineParams({ rows: 'u32', shift: 'i32', scale: 'f32' });

  it('generates the WGSL struct in declaration order', () => {
    expect(P.wgsl).toBe('struct Params {\n  rows : u32,\n  shift : i32,\n  scale : f32,\n}\n');
    expect(defineParams({ a: 'f32' }, 'Other').wgsl).toBe('struct Other {\n  a : f32,\n}\n');
  });

  it('writes 4-byte scalars at consecutive offsets, little-endian, padded to 16 bytes', () => {
    expect(P.offsets).toEqual({ rows: 0, shift: 4, scale: 8 });
    expect(P.byteLength).toBe(16);
    const dv = new DataView(P.write({ rows: 0xfffffffe, shift: -3, scale: 0.1 }));
    expect(dv.byteLength).toBe(16);
    expect(dv.getUint32(0, true)).toBe(0xfffffffe);
    expect(dv.getInt32(4, true)).toBe(-3);
    expect(dv.getFloat32(8, true)).toBe(Math.fround(0.1));
    expect(dv.getUint32(12, true)).toBe(0);
  });

  it('rounds the buffer up to a multiple of 16 bytes', () => {
    const five = defineParams({ a: 'u32', b: 'u32', c: 'u32', d: 'u32', e: 'f32' });
    expect(five.byteLength).toBe(32);
    expect(five.write({ a: 1, b: 2, c: 3, d: 4, e: 5 }).byteLength).toBe(32);
  });

  it('aligns vector fields as WGSL does (vec2 to 8, vec3 and vec4 to 16; vec3 leaves room for a scalar)', () => {
    const V = defineParams({ a: 'u32', v2: 'vec2<f32>', b: 'u32', v3: 'vec3<u32>', c: 'f32', v4: 'vec4<i32>' });
    expect(V.offsets).toEqual({ a: 0, v2: 8, b: 16, v3: 32, c: 44, v4: 48 });
    expect(V.byteLength).toBe(64);
    const dv = new DataView(V.write({ a: 1, v2: [2, 3], b: 4, v3: [5, 6, 7], c: 8, v4: [-9, 10, 11, 12] }));
    expect(dv.getFloat32(12, true)).toBe(3);
    expect(dv.getUint32(40, true)).toBe(7);
    expect(dv.getFloat32(44, true)).toBe(8);
    expect(dv.getInt32(48, true)).toBe(-9);
    expect(() => V.write({ a: 1, v2: [2], b: 4, v3: [5, 6, 7], c: 8, v4: [9, 10, 11, 12] })).toThrow(/v2 needs 2 components/);
  });

  it('throws on a missing or an extra field', () => {
    expect(() => P.write({ rows: 1, shift: 2 } as never)).toThrow(/missing field\(s\) scale/);
    expect(() => P.write({ rows: 1, shift: 2, scale: 3, cols: 4 } as never)).toThrow(/unknown field\(s\) cols/);
  });

  it('throws on integers out of range', () => {
    expect(() => P.write({ rows: -1, shift: 0, scale: 0 })).toThrow(/rows out of u32 range/);
    expect(() => P.write({ rows: 2 ** 32, shift: 0, scale: 0 })).toThrow(/rows out of u32 range/);
    expect(() => P.write({ rows: 1.5, shift: 0, scale: 0 })).toThrow(/rows out of u32 range/);
    expect(() => P.write({ rows: 0, shift: 2 ** 31, scale: 0 })).toThrow(/shift out of i32 range/);
  });

  it('rejects names and types WGSL would not take', () => {
    expect(() => defineParams({ 'a-b': 'u32' })).toThrow(/not a WGSL identifier/);
    expect(() => defineParams({ a: 'f64' } as never)).toThrow(/unsupported type/);
    expect(() => defineParams({})).toThrow(/at least one field/);
  });
});

describe('composeWgsl', () => {
  it('joins the parts, each ending in a newline', () => {
    expect(composeWgsl('struct P {\n}\n', 'fn f() {}')).toBe('struct P {\n}\n\nfn f() {}\n');
  });
});

describe('every kernel reads only uniforms its declaration holds', () => {
  const shader = (name: string) => readFileSync(new URL(`../../../shaders/${name}.wgsl`, import.meta.url), 'utf8');
  const kernels: Array<[string, ParamsLayout<ParamFields>]> = [
    ['quant', QUANT_PARAMS],
    ['awq-clip', CLIP_PARAMS],
    ['block', BLOCK_PARAMS],
    ['select', SELECT_PARAMS],
    ['gemm', GEMM_PARAMS],
    ['nm', NM_PARAMS],
    ['rowselect', ROWSELECT_PARAMS],
    ['pack', PACK_PARAMS],
    ['stats', STATS_PARAMS],
  ];

  it.each(kernels)('%s.wgsl', (name, params) => {
    const code = shader(name);
    expect(code).not.toMatch(/struct Params\s*\{/);
    const used = new Set([...code.matchAll(/\bp\.(\w+)/g)].map((m) => m[1]));
    expect([...used].filter((f) => !(f in params.fields))).toEqual([]);
    expect(Object.keys(params.fields).filter((f) => !used.has(f))).toEqual([]);
  });

  it('the shared snippets read no uniforms (their callers pass them)', () => {
    for (const name of ['grid', 'quantizer', 'nm-rank']) expect(shader(name)).not.toMatch(/\bp\./);
  });
});
