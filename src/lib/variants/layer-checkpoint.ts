import type { LayerOutput, LayerTiming, LinearReport } from '../compress/engine/report';
import type { QuantizedMatrix, QuantVariant } from '../compress/reference/quantizer';
import type { ShardCache } from '../storage/shard-cache';

/**
 * A finished layer of a compression, kept in its variant's cache entry while the compression
 * runs, so that a run stopped by a cancel, a crash, a reload or a killed browser goes on from
 * the next layer instead of from the first. Each file holds the layer as the driver handed it
 * over (every tensor, the quantizers' codes, the linears' reports), its timing, and the next
 * layer's calibration inputs. The files are removed when the variant is complete.
 */

export const CHECKPOINT_FOLDER = 'resume';
const FORMAT = 'ctlab-layer-checkpoint';
const VERSION = 1;

/** What must match for a kept layer to be reused: the same kernels and block forward give the same bits. */
export interface CheckpointContext {
  kernels: string;
  forward: string;
  layers: number;
}

export interface LayerCheckpoint {
  out: LayerOutput;
  timing: LayerTiming;
  /** The calibration inputs of the next layer, one [L, hidden] array per sample. */
  next: Float32Array[];
}

type Typed = Float32Array | Uint8Array | Int32Array;
type Kind = 'f32' | 'u8' | 'i32';

interface Segment {
  kind: Kind;
  length: number;
}

interface QuantizedHeader {
  name: string;
  rows: number;
  cols: number;
  bits: number;
  groupSize: number;
  groups: number;
  sym: boolean;
  variant: QuantVariant;
  /** The fake-quantized weight is the layer tensor of the same name (no second copy kept). */
  weightIsTensor: boolean;
  hasGIdx: boolean;
}

interface Header {
  format: typeof FORMAT;
  version: number;
  context: CheckpointContext;
  layer: number;
  timing: LayerTiming;
  linears: LinearReport[];
  tensors: string[];
  quantized: QuantizedHeader[];
  next: number;
  segments: Segment[];
}

export function checkpointPath(layer: number): string {
  return `${CHECKPOINT_FOLDER}/layer-${String(layer).padStart(4, '0')}.bin`;
}

function kindOf(a: Typed): Kind {
  return a instanceof Float32Array ? 'f32' : a instanceof Int32Array ? 'i32' : 'u8';
}

function sameValues(a: Float32Array, b: Float32Array | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  if (a === b) return true;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** The checkpoint as bytes: a length-prefixed JSON header, then each array, 8-byte aligned. */
export function encodeCheckpoint(c: LayerCheckpoint, context: CheckpointContext): Blob {
  const arrays: Typed[] = [];
  const tensors = [...c.out.tensors.keys()];
  for (const name of tensors) arrays.push(c.out.tensors.get(name)!);
  const quantized: QuantizedHeader[] = [];
  for (const [name, q] of c.out.quantized) {
    const weightIsTensor = sameValues(q.weight.data, c.out.tensors.get(name));
    if (!weightIsTensor) arrays.push(q.weight.data);
    arrays.push(q.codes, q.scales, q.zeros);
    if (q.gIdx) arrays.push(q.gIdx);
    quantized.push({
      name,
      rows: q.weight.rows,
      cols: q.weight.cols,
      bits: q.bits,
      groupSize: q.groupSize,
      groups: q.groups,
      sym: q.sym,
      variant: q.variant,
      weightIsTensor,
      hasGIdx: Boolean(q.gIdx),
    });
  }
  arrays.push(...c.next);
  const header: Header = {
    format: FORMAT,
    version: VERSION,
    context,
    layer: c.out.layer,
    timing: c.timing,
    linears: c.out.linears,
    tensors,
    quantized,
    next: c.next.length,
    segments: arrays.map((a) => ({ kind: kindOf(a), length: a.length })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setUint32(0, json.byteLength, true);
  const parts: BlobPart[] = [prefix, json, new Uint8Array(pad8(json.byteLength))];
  for (const a of arrays) {
    parts.push(a as Typed & { buffer: ArrayBuffer });
    parts.push(new Uint8Array(pad8(a.byteLength)));
  }
  return new Blob(parts);
}

function pad8(n: number): number {
  return (8 - (n % 8)) % 8;
}

/** Reads a checkpoint back; throws on anything but a whole file of this format and context. */
export function decodeCheckpoint(buf: ArrayBuffer, context: CheckpointContext): LayerCheckpoint {
  const view = new DataView(buf);
  if (buf.byteLength < 8) throw new Error('layer checkpoint: truncated');
  const n = view.getUint32(0, true);
  if (8 + n > buf.byteLength) throw new Error('layer checkpoint: truncated header');
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n))) as Header;
  if (header.format !== FORMAT || header.version !== VERSION) throw new Error('layer checkpoint: not a checkpoint of this version');
  if (JSON.stringify(header.context) !== JSON.stringify(context))
    throw new Error(`layer checkpoint: made with ${JSON.stringify(header.context)}, not ${JSON.stringify(context)}`);
  let at = 8 + n + pad8(n);
  let next = 0;
  const take = (): Typed => {
    const s = header.segments[next++];
    if (!s) throw new Error('layer checkpoint: fewer arrays than its header names');
    const size = s.kind === 'u8' ? 1 : 4;
    const bytes = s.length * size;
    if (at + bytes > buf.byteLength) throw new Error('layer checkpoint: truncated data');
    const copy = buf.slice(at, at + bytes);
    at += bytes + pad8(bytes);
    return s.kind === 'f32' ? new Float32Array(copy) : s.kind === 'i32' ? new Int32Array(copy) : new Uint8Array(copy);
  };
  const tensors = new Map<string, Float32Array>();
  for (const name of header.tensors) tensors.set(name, take() as Float32Array);
  const quantized = new Map<string, QuantizedMatrix>();
  for (const q of header.quantized) {
    const data = q.weightIsTensor ? tensors.get(q.name) : (take() as Float32Array);
    if (!data) throw new Error(`layer checkpoint: no tensor ${q.name}`);
    const codes = take() as Uint8Array;
    const scales = take() as Float32Array;
    const zeros = take() as Uint8Array;
    const gIdx = q.hasGIdx ? (take() as Int32Array) : undefined;
    quantized.set(q.name, {
      weight: { rows: q.rows, cols: q.cols, data },
      codes,
      scales,
      zeros,
      bits: q.bits,
      groupSize: q.groupSize,
      groups: q.groups,
      sym: q.sym,
      variant: q.variant,
      ...(gIdx ? { gIdx } : {}),
    });
  }
  const nextInputs: Float32Array[] = [];
  for (let i = 0; i < header.next; i++) nextInputs.push(take() as Float32Array);
  if (next !== header.segments.length) throw new Error('layer checkpoint: more arrays than its header names');
  return {
    out: { layer: header.layer, tensors, quantized, linears: header.linears },
    timing: header.timing,
    next: nextInputs,
  };
}

/** Stores a finished layer in the variant's entry. */
export async function saveCheckpoint(cache: ShardCache, key: string, c: LayerCheckpoint, context: CheckpointContext): Promise<void> {
  await cache.storeFromBlob(key, checkpointPath(c.out.layer), encodeCheckpoint(c, context));
}

/**
 * The kept layers 0…k−1 of a stopped compression, one at a time and in order (a layer's tensors
 * can be hundreds of megabytes, so no more than one is read at once): the longest run of complete,
 * readable checkpoints of this context from layer 0 (a later one without its predecessors is
 * useless, and an unreadable one is computed again).
 */
export async function* keptLayers(cache: ShardCache, key: string, context: CheckpointContext): AsyncGenerator<LayerCheckpoint> {
  const manifest = await cache.manifest(key);
  if (!manifest) return;
  for (let layer = 0; layer < context.layers; layer++) {
    if (!manifest.files[checkpointPath(layer)]?.complete) return;
    let c: LayerCheckpoint;
    try {
      c = decodeCheckpoint(await (await cache.fileBlob(key, checkpointPath(layer))).arrayBuffer(), context);
    } catch {
      return;
    }
    if (c.out.layer !== layer) return;
    yield c;
  }
}

/** Removes every checkpoint file of the entry (the variant is complete, or its kept layers are unusable). */
export async function removeCheckpoints(cache: ShardCache, key: string): Promise<void> {
  const manifest = await cache.manifest(key);
  for (const name of Object.keys(manifest?.files ?? {})) if (name.startsWith(`${CHECKPOINT_FOLDER}/`)) await cache.removeFile(key, name);
}
