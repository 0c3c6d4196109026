/**
 * A minimal protobuf encoder for the subset of `onnx.proto` the graph builder writes.
 *
 * Why not `onnx-proto` / protobufjs: both are CommonJS, so Vite has to pre-bundle them on first
 * use, which reloads a running Vitest browser page (flaky tests) unless `optimizeDeps.include`
 * lists them, and they add ~330 kB of generated code for a write-only need. The field numbers
 * below are those of onnx.proto (IR version 8); `tests/unit/onnx/proto.test.ts` decodes our
 * bytes with `onnx-proto` to keep the two in agreement.
 */

/** onnx.TensorProto.DataType */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** onnx.AttributeProto.AttributeType */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  /** Inline little-endian bytes; absent for external tensors. */
  rawData?: Uint8Array;
  /** `location`, `offset`, `length` entries; marks the tensor as EXTERNAL. */
  externalData?: { location: string; offset: number; length: number };
}

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorProto };

export interface NodeProto {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: [string, AttributeValue][];
}

/** A tensor type with a shape: numbers are fixed sizes, strings symbolic dimensions. */
export interface ValueInfoProto {
  name: string;
  elemType: DataTypeCode;
  shape: (number | string)[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphProto;
  metadata?: Record<string, string>;
}

const textEncoder = new TextEncoder();

/** Appends protobuf wire-format fields to a growable buffer. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Unsigned varint of a non-negative safe integer, or a negative int64 as two's complement. */
  varint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new Error(`varint: ${v} is not a safe integer`);
    if (v < 0) {
      let big = BigInt.asUintN(64, BigInt(v));
      while (big >= 0x80n) {
        this.byte(Number(big & 0x7fn) | 0x80);
        big >>= 7n;
      }
      this.byte(Number(big));
      return;
    }
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, v, true);
    this.len += 4;
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, textEncoder.encode(s));
  }

  /** A length-delimited sub-message written by `body`. */
  message(field: number, body: (w: ProtoWriter) => void): void {
    const sub = new ProtoWriter();
    body(sub);
    this.bytes(field, sub.finish());
  }

  packedInts(field: number, values: number[]): void {
    const sub = new ProtoWriter();
    for (const v of values) sub.varint(v);
    this.bytes(field, sub.finish());
  }

  packedFloats(field: number, values: number[]): void {
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    this.bytes(field, data);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (t.rawData) w.bytes(9, t.rawData);
  if (t.externalData) {
    const { location, offset, length } = t.externalData;
    for (const [key, value] of [
      ['location', location],
      ['offset', String(offset)],
      ['length', String(length)],
    ]) {
      w.message(13, (e) => {
        e.string(1, key);
        e.string(2, value);
      });
    }
    w.int(14, 1); // DataLocation.EXTERNAL
  }
}

function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      w.int(20, AttributeType.FLOAT);
      break;
    case 'int':
      w.int(3, a.value);
      w.int(20, AttributeType.INT);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, AttributeType.STRING);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value));
      w.int(20, AttributeType.TENSOR);
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      w.int(20, AttributeType.FLOATS);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      w.int(20, AttributeType.INTS);
      break;
  }
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of n.attributes) w.message(5, (aw) => writeAttribute(aw, name, a));
  if (n.domain) w.string(7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.nodes) w.message(1, (nw) => writeNode(nw, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (tw) => writeTensor(tw, t));
  for (const v of g.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
}

/** Serializes a model to `ModelProto` bytes. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.message(7, (gw) => writeGraph(gw, m.graph));
  for (const o of m.opsets) {
    w.message(8, (ow) => {
      if (o.domain) ow.string(1, o.domain);
      ow.int(2, o.version);
    });
  }
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    w.message(14, (e) => {
      e.string(1, key);
      e.string(2, value);
    });
  }
  return w.finish();
}
