/**
 * A kernel's uniform parameters, declared once: the declaration yields both the WGSL
 * `struct Params` (prefixed to the shader source, so the shader file does not declare it) and
 * the writer of its bytes, so the two cannot drift apart. Field order is the struct's member
 * order; offsets follow WGSL's alignment rules for the uniform address space.
 */

type Scalar = 'u32' | 'i32' | 'f32';
export type ParamType = Scalar | `vec${2 | 3 | 4}<${Scalar}>`;
export type ParamFields = Readonly<Record<string, ParamType>>;

/** A scalar field takes a number, a vector field one number per component. */
export type ParamValues<F extends ParamFields> = {
  [K in keyof F]: F[K] extends Scalar ? number : readonly number[];
};

export interface ParamsLayout<F extends ParamFields> {
  readonly fields: F;
  /** `struct <name> { … }` in WGSL. */
  readonly wgsl: string;
  /** Byte offset of every field. */
  readonly offsets: Readonly<Record<keyof F, number>>;
  /** Bytes a uniform buffer needs: the struct's size padded to 16 (and at least 16). */
  readonly byteLength: number;
  /** The uniform bytes of these values; throws on a missing or extra field or a value out of range. */
  write(values: ParamValues<F>): ArrayBuffer;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function shape(type: ParamType): { scalar: Scalar; n: number; size: number; align: number } {
  const m = /^vec([234])<(u32|i32|f32)>$/.exec(type);
  if (!m) {
    if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`params: unsupported type ${type}`);
    return { scalar: type, n: 1, size: 4, align: 4 };
  }
  const n = Number(m[1]);
  // vec3 is 16-byte aligned but 12 bytes long, so a scalar may follow it in the same 16 bytes.
  return { scalar: m[2] as Scalar, n, size: 4 * n, align: n === 2 ? 8 : 16 };
}

const roundUp = (v: number, to: number) => Math.ceil(v / to) * to;

function put(dv: DataView, at: number, scalar: Scalar, v: number, name: string): void {
  if (typeof v !== 'number') throw new Error(`params: ${name} is not a number`);
  if (scalar === 'f32') return dv.setFloat32(at, v, true);
  const [min, max] = scalar === 'u32' ? [0, 0xffffffff] : [-0x80000000, 0x7fffffff];
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`params: ${name} out of ${scalar} range: ${v}`);
  if (scalar === 'u32') dv.setUint32(at, v, true);
  else dv.setInt32(at, v, true);
}

export function defineParams<const F extends ParamFields>(fields: F, name = 'Params'): ParamsLayout<F> {
  if (!IDENT.test(name)) throw new Error(`params: ${name} is not a WGSL identifier`);
  const names = Object.keys(fields);
  if (!names.length) throw new Error('params: a struct needs at least one field');
  const offsets: Record<string, number> = {};
  let end = 0;
  let align = 4;
  for (const f of names) {
    if (!IDENT.test(f) || f.startsWith('__')) throw new Error(`params: ${f} is not a WGSL identifier`);
    const s = shape(fields[f]);
    offsets[f] = roundUp(end, s.align);
    end = offsets[f] + s.size;
    align = Math.max(align, s.align);
  }
  const structSize = roundUp(end, align);
  const byteLength = Math.max(16, roundUp(structSize, 16));
  const wgsl = `struct ${name} {\n${names.map((f) => `  ${f} : ${fields[f]},\n`).join('')}}\n`;

  function write(values: ParamValues<F>): ArrayBuffer {
    const given = values as Record<string, number | readonly number[]>;
    const extra = Object.keys(given).filter((k) => !(k in fields));
    if (extra.length) throw new Error(`params: unknown field(s) ${extra.join(', ')}`);
    const missing = names.filter((k) => given[k] === undefined);
    if (missing.length) throw new Error(`params: missing field(s) ${missing.join(', ')}`);
    const buf = new ArrayBuffer(byteLength);
    const dv = new DataView(buf);
    for (const f of names) {
      const s = shape(fields[f]);
      const v = given[f];
      if (s.n === 1) put(dv, offsets[f], s.scalar, v as number, f);
      else {
        if (!Array.isArray(v) || v.length !== s.n) throw new Error(`params: ${f} needs ${s.n} components`);
        v.forEach((c: number, i: number) => put(dv, offsets[f] + 4 * i, s.scalar, c, `${f}[${i}]`));
      }
    }
    return buf;
  }

  return { fields, wgsl, offsets: offsets as Record<keyof F, number>, byteLength, write };
}
