import {
  DataType,
  encodeModel,
  type AttributeValue,
  type DataTypeCode,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto';
import { layoutExternalData, type ExternalDataOptions } from './external-data';

export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

const ELEM: Record<ElemType, { code: DataTypeCode; bytes: number }> = {
  float32: { code: DataType.FLOAT, bytes: 4 },
  float16: { code: DataType.FLOAT16, bytes: 2 },
  int64: { code: DataType.INT64, bytes: 8 },
  int32: { code: DataType.INT32, bytes: 4 },
  uint8: { code: DataType.UINT8, bytes: 1 },
  bool: { code: DataType.BOOL, bytes: 1 },
};

export function elemTypeCode(t: ElemType): DataTypeCode {
  return ELEM[t].code;
}

/**
 * Node attributes: a number is an INT (it must be an integer), a number[] INTS, a string
 * STRING; floats are spelled out as `{ float }` / `{ floats }` so `1` never becomes 1.0 by accident.
 */
export type Attr = number | number[] | string | { float: number } | { floats: number[] };

function toAttribute(name: string, a: Attr): AttributeValue {
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new Error(`attribute ${name}: ${a} is not an integer; use { float }`);
    return { kind: 'int', value: a };
  }
  if (typeof a === 'string') return { kind: 'string', value: a };
  if (Array.isArray(a)) {
    if (!a.every(Number.isInteger)) throw new Error(`attribute ${name}: not all integers; use { floats }`);
    return { kind: 'ints', value: a };
  }
  if ('float' in a) return { kind: 'float', value: a.float };
  return { kind: 'floats', value: a.floats };
}

/**
 * Writes a weight's bytes into `dst` (exactly its size). May be asynchronous, e.g. reading the
 * tensor from IndexedDB, but then only `layout()` can build the graph.
 */
export type WeightFill = (dst: Uint8Array) => void | Promise<void>;
/** A weight's bytes exactly as stored, so a streaming build writes them without a scratch copy. */
export type WeightBytes = () => Uint8Array | Promise<Uint8Array>;

/** A large tensor written lazily into its final place (an external data chunk or inline bytes). */
interface WeightEntry {
  name: string;
  type: ElemType;
  dims: number[];
  byteLength: number;
  fill: WeightFill;
  bytes?: WeightBytes;
}

export interface NodeOptions {
  /** Output value names, or how many outputs to name automatically (default 1). */
  outputs?: string[] | number;
  domain?: string;
  name?: string;
}

export interface BuildModelOptions {
  opsets: { domain: string; version: number }[];
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  metadata?: Record<string, string>;
  /** Where `weight()` tensors go: external data files (the default) or inline in the model. */
  externalData?: false | ExternalDataOptions;
}

export interface ExternalDataFile {
  path: string;
  data: Uint8Array;
}

export interface BuiltGraph {
  /** `ModelProto` bytes. */
  model: Uint8Array;
  /** The external data chunks, in transformers.js order; empty when weights are inline. */
  externalData: ExternalDataFile[];
}

/** Appends bytes to the file being written; resolves once they are copied (the caller may then reuse them). */
export type WriteFn = (bytes: Uint8Array) => Promise<void>;

/**
 * A graph whose external data has not been produced yet: the `ModelProto` bytes and the size of
 * every external file are known up front (so quota and memory can be checked before any
 * weight is read); `writeExternal` then fills one file's weights in order, one at a time.
 */
export interface LaidOutGraph {
  model: Uint8Array;
  externalFiles: { path: string; byteLength: number }[];
  writeExternal(index: number, write: WriteFn): Promise<void>;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';

/** Zero padding between aligned tensors, shared so gaps never allocate. */
const ZEROS = new Uint8Array(4096);

/**
 * A small helper for writing ONNX graphs by hand: unique value names under a scope prefix,
 * de-duplicated inline constants, and weights filled lazily into external data at `build()`.
 */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly constants: TensorProto[] = [];
  private readonly constantKeys = new Map<string, string>();
  private readonly weights: WeightEntry[] = [];
  private readonly used = new Set<string>();
  private readonly scopes: string[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** Runs `fn` with node and value names prefixed by `scope`. */
  scoped<T>(scope: string, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`duplicate value name ${name}`);
    this.used.add(name);
    return name;
  }

  /** A fresh name under the current scope. */
  fresh(base: string): string {
    const prefix = this.scopes.length ? `/${this.scopes.join('/')}/` : '/';
    let name = `${prefix}${base}`;
    while (this.used.has(name)) name = `${prefix}${base}_${++this.counter}`;
    return this.claim(name);
  }

  input(name: string, type: ElemType, shape: (number | string)[]): string {
    this.inputs.push({ name: this.claim(name), elemType: ELEM[type].code, shape });
    return name;
  }

  /** Declares an existing value as a graph output. */
  output(name: string, type: ElemType, shape: (number | string)[]): void {
    if (!this.used.has(name)) throw new Error(`output ${name} is not produced by the graph`);
    this.outputs.push({ name, elemType: ELEM[type].code, shape });
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: NodeOptions = {}): string[] {
    const nodeName = opts.name ?? this.fresh(opType);
    const outs = opts.outputs ?? 1;
    const outputs =
      typeof outs === 'number'
        ? Array.from({ length: outs }, (_, i) => this.claim(`${nodeName}_output_${i}`))
        : outs.map((o) => this.claim(o));
    this.nodes.push({
      name: nodeName,
      opType,
      domain: opts.domain ?? '',
      inputs,
      outputs,
      attributes: Object.entries(attrs).map(([k, v]) => [k, toAttribute(k, v)]),
    });
    return outputs;
  }

  /** A single-output node. `output` names the value (for graph outputs); otherwise it is fresh. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string, domain?: string): string {
    return this.node(opType, inputs, attrs, { outputs: output ? [output] : 1, domain })[0];
  }

  private constant(type: ElemType, dims: number[], bytes: Uint8Array, key: string): string {
    const existing = this.constantKeys.get(key);
    if (existing) return existing;
    const name = this.claim(`const_${this.constants.length}`);
    this.constants.push({ name, dataType: ELEM[type].code, dims, rawData: bytes });
    this.constantKeys.set(key, name);
    return name;
  }

  /** An inline int64 constant: a scalar for a number, 1-D for an array (or `dims`). */
  i64(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    const d = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    const data = BigInt64Array.from(arr.map((v) => BigInt(v)));
    return this.constant('int64', d, new Uint8Array(data.buffer), `i64:${d.join(',')}:${arr.join(',')}`);
  }

  /** An inline float32 constant: a scalar for a number, 1-D for an array (or `dims`). */
  f32(values: number | number[] | Float32Array, dims?: number[]): string {
    const arr = typeof values === 'number' ? Float32Array.of(values) : Float32Array.from(values);
    const d = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    return this.constant('float32', d, new Uint8Array(arr.buffer), `f32:${d.join(',')}:${Array.from(arr).join(',')}`);
  }

  /** An inline float32 tensor that is not de-duplicated (for generated tables). */
  f32Tensor(values: Float32Array, dims: number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`expected ${count} values for [${dims}], got ${values.length}`);
    const name = this.claim(`const_${this.constants.length}`);
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
    this.constants.push({ name, dataType: ELEM.float32.code, dims, rawData: bytes });
    return name;
  }

  /**
   * A weight initializer whose bytes are written by `fill` at build time straight into its
   * place in the external data (or inline buffer), so no intermediate copy is kept.
   */
  weight(name: string, type: ElemType, dims: number[], fill: WeightFill): string {
    const count = dims.reduce((a, b) => a * b, 1);
    this.weights.push({ name: this.claim(name), type, dims, byteLength: count * ELEM[type].bytes, fill });
    return name;
  }

  /** A weight whose bytes are produced as they are (no transform), fetched only at build time. */
  weightBytes(name: string, type: ElemType, dims: number[], bytes: WeightBytes): string {
    const byteLength = dims.reduce((a, b) => a * b, 1) * ELEM[type].bytes;
    const checked = (b: Uint8Array): Uint8Array => {
      if (b.byteLength !== byteLength) throw new Error(`${name}: expected ${byteLength} bytes for [${dims}], got ${b.byteLength}`);
      return b;
    };
    const get: WeightBytes = () => {
      const got = bytes();
      return isThenable(got) ? Promise.resolve(got).then(checked) : checked(got);
    };
    const fill: WeightFill = (dst) => {
      const got = get();
      if (isThenable(got)) return Promise.resolve(got).then((b) => dst.set(b));
      dst.set(got);
    };
    this.weights.push({ name: this.claim(name), type, dims, byteLength, fill, bytes: get });
    return name;
  }

  /** A float32 weight given as values (copied at build time). */
  weightF32(name: string, dims: number[], values: Float32Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new Error(`${name}: expected ${count} values for [${dims}], got ${values.length}`);
    return this.weight(name, 'float32', dims, (dst) => dst.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)));
  }

  /** Serializes the graph; weights are filled into external data chunks (or inline). */
  build(opts: BuildModelOptions): BuiltGraph {
    const initializers: TensorProto[] = [...this.constants];
    const externalData: ExternalDataFile[] = [];
    const fillChecked = (w: WeightEntry, dst: Uint8Array): void => {
      if (dst.byteLength !== w.byteLength) throw new Error(`${w.name}: wrong destination size`);
      if (isThenable(w.fill(dst))) throw new Error(`${w.name}: its weight source is asynchronous; build the graph with layout()`);
    };
    if (opts.externalData === false) {
      for (const w of this.weights) {
        const raw = new Uint8Array(w.byteLength);
        fillChecked(w, raw);
        initializers.push({ name: w.name, dataType: ELEM[w.type].code, dims: w.dims, rawData: raw });
      }
    } else if (this.weights.length) {
      const layout = layoutExternalData(
        this.weights.map((w) => w.byteLength),
        opts.externalData,
      );
      const chunks = layout.chunkBytes.map((n) => new Uint8Array(n));
      this.weights.forEach((w, i) => {
        const p = layout.placements[i];
        fillChecked(w, chunks[p.chunk].subarray(p.offset, p.offset + p.length));
        initializers.push({
          name: w.name,
          dataType: ELEM[w.type].code,
          dims: w.dims,
          externalData: { location: layout.files[p.chunk], offset: p.offset, length: p.length },
        });
      });
      layout.files.forEach((path, i) => externalData.push({ path, data: chunks[i] }));
    }
    const model = this.encode(opts, initializers);
    return { model, externalData };
  }

  /**
   * The streaming form of `build()` for external data: the same `ModelProto` bytes and file
   * contents, but each weight is filled only when `writeExternal` reaches it and dropped once
   * written, so at most one tensor (plus its source) is held at a time.
   */
  layout(opts: BuildModelOptions): LaidOutGraph {
    if (opts.externalData === false) throw new Error(`${this.name}: a streamed graph keeps its weights in external data`);
    const layout = layoutExternalData(
      this.weights.map((w) => w.byteLength),
      opts.externalData,
    );
    const initializers: TensorProto[] = [...this.constants];
    this.weights.forEach((w, i) => {
      const p = layout.placements[i];
      initializers.push({
        name: w.name,
        dataType: ELEM[w.type].code,
        dims: w.dims,
        externalData: { location: layout.files[p.chunk], offset: p.offset, length: p.length },
      });
    });
    const model = this.encode(opts, initializers);
    const weights = this.weights;
    const writeExternal = async (index: number, write: WriteFn): Promise<void> => {
      if (!(index >= 0 && index < layout.files.length)) throw new RangeError(`no external data file ${index}`);
      let pos = 0;
      for (let i = 0; i < weights.length; i++) {
        const p = layout.placements[i];
        if (p.chunk !== index) continue;
        for (; pos < p.offset;) {
          const gap = Math.min(ZEROS.length, p.offset - pos);
          await write(ZEROS.subarray(0, gap));
          pos += gap;
        }
        const w = weights[i];
        let bytes: Uint8Array;
        if (w.bytes) {
          bytes = await w.bytes();
        } else {
          bytes = new Uint8Array(w.byteLength);
          await w.fill(bytes);
        }
        await write(bytes);
        pos += w.byteLength;
      }
      if (pos !== layout.chunkBytes[index])
        throw new Error(`${layout.files[index]}: wrote ${pos} bytes, laid out ${layout.chunkBytes[index]}`);
    };
    return {
      model,
      externalFiles: layout.files.map((path, i) => ({ path, byteLength: layout.chunkBytes[i] })),
      writeExternal,
    };
  }

  private encode(opts: BuildModelOptions, initializers: TensorProto[]): Uint8Array {
    return encodeModel({
      irVersion: opts.irVersion ?? 8,
      opsets: opts.opsets,
      producerName: opts.producerName ?? 'compressed-trust-lab',
      producerVersion: opts.producerVersion ?? '0.1.0',
      metadata: opts.metadata,
      graph: { name: this.name, nodes: this.nodes, initializers, inputs: this.inputs, outputs: this.outputs },
    });
  }
}
