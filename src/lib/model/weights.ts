import type { ByteSource } from '../storage/byte-source';
import { ModelConfigError } from './config';
import { SafetensorsFile, isFloatDtype, type TensorInfo } from './safetensors';
import { BLOCK_LINEARS, EMBED_TOKENS_WEIGHT, layerNormNames, layerPrefix, type ModelSpec } from './spec';

/** The shard files and index of a checkpoint don't fit together. */
export class WeightStoreError extends Error {
  override name = 'WeightStoreError';
}

/** The checkpoint's tensors don't match what its config describes. */
export class WeightMismatchError extends ModelConfigError {
  override name = 'WeightMismatchError';
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
  }
}

/** `model.safetensors.index.json`, the part of it we use. */
export interface SafetensorsIndex {
  weight_map: Record<string, string>;
}

export interface WeightFile {
  name: string;
  source: ByteSource;
}

export interface WeightInfo extends TensorInfo {
  /** The shard the tensor lives in. */
  file: string;
}

/** How many problems an error message spells out before summarising the rest. */
const SHOW_PROBLEMS = 8;

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The tensors a checkpoint must hold for `spec`, with their shapes, in checkpoint order. */
export function expectedTensors(spec: ModelSpec): Map<string, number[]> {
  const h = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const inter = spec.intermediateSize;
  const linear: Record<(typeof BLOCK_LINEARS)[number], number[]> = {
    'self_attn.q_proj': [q, h],
    'self_attn.k_proj': [kv, h],
    'self_attn.v_proj': [kv, h],
    'self_attn.o_proj': [h, q],
    'mlp.gate_proj': [inter, h],
    'mlp.up_proj': [inter, h],
    'mlp.down_proj': [h, inter],
  };
  const norms = layerNormNames(spec);
  const out = new Map<string, number[]>();
  out.set(EMBED_TOKENS_WEIGHT, [spec.vocabSize, h]);
  for (let i = 0; i < spec.numLayers; i++) {
    const p = layerPrefix(i);
    for (const n of norms) out.set(`${p}${n}`, n.startsWith('self_attn.') ? [spec.headDim] : [h]);
    for (const l of BLOCK_LINEARS) out.set(`${p}${l}.weight`, linear[l]);
    if (spec.qkvBias) {
      out.set(`${p}self_attn.q_proj.bias`, [q]);
      out.set(`${p}self_attn.k_proj.bias`, [kv]);
      out.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
  }
  out.set('model.norm.weight', [h]);
  if (!spec.tiedEmbeddings) out.set('lm_head.weight', [spec.vocabSize, h]);
  return out;
}

/**
 * The tensors of a checkpoint, one safetensors file or many shards, addressed by Hugging Face
 * name. Opening reads only the headers; tensors are read one at a time or one layer at a time.
 */
export class WeightStore {
  private constructor(
    private readonly where: Map<string, SafetensorsFile>,
    /** Name → the name inside its file, where they differ (a multimodal wrapper's text model). */
    private readonly aliases: ReadonlyMap<string, string> = new Map(),
  ) {}

  private storedName(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  static async open(files: readonly WeightFile[], index?: SafetensorsIndex, textPrefixes: readonly string[] = []): Promise<WeightStore> {
    if (files.length === 0) throw new WeightStoreError('no safetensors files were given');
    const byName = new Map<string, ByteSource>();
    for (const f of files) {
      if (byName.has(f.name)) throw new WeightStoreError(`safetensors file "${f.name}" was given twice`);
      byName.set(f.name, f.source);
    }

    let weightMap: [string, string][] | null = null;
    if (index !== undefined) {
      const wm: unknown = (index as { weight_map?: unknown } | null)?.weight_map;
      if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
        throw new WeightStoreError('model.safetensors.index.json has no "weight_map" object');
      }
      weightMap = Object.entries(wm);
      const bad = weightMap.find(([, shard]) => typeof shard !== 'string');
      if (bad) throw new WeightStoreError(`model.safetensors.index.json maps "${bad[0]}" to a non-string shard`);
      const needed = [...new Set(weightMap.map(([, shard]) => shard))];
      const missing = needed.filter((s) => !byName.has(s));
      if (missing.length > 0) {
        throw new WeightStoreError(
          `model.safetensors.index.json refers to shard${missing.length > 1 ? 's' : ''} ${missing.map((s) => `"${s}"`).join(', ')} ` +
            `that ${missing.length > 1 ? 'were' : 'was'} not provided (have: ${[...byName.keys()].join(', ')})`,
        );
      }
      // Only the shards the index names matter; anything else the caller passed is ignored.
      for (const name of [...byName.keys()]) if (!needed.includes(name)) byName.delete(name);
    }

    const opened = new Map<string, SafetensorsFile>();
    await Promise.all([...byName].map(async ([name, source]) => opened.set(name, await SafetensorsFile.open(source))));

    const where = new Map<string, SafetensorsFile>();
    if (weightMap !== null) {
      const absent: string[] = [];
      for (const [tensor, shard] of weightMap) {
        const file = opened.get(shard)!;
        if (file.has(tensor)) where.set(tensor, file);
        else absent.push(`"${tensor}" (in ${shard})`);
      }
      if (absent.length > 0) {
        throw new WeightStoreError(
          `model.safetensors.index.json lists ${absent.length} tensor${absent.length > 1 ? 's' : ''} missing from ${absent.length > 1 ? 'their shards' : 'its shard'}: ` +
            absent.slice(0, SHOW_PROBLEMS).join(', ') +
            (absent.length > SHOW_PROBLEMS ? `, … and ${absent.length - SHOW_PROBLEMS} more` : ''),
        );
      }
    } else {
      // Keep the caller's file order so names() is deterministic whatever order headers arrived.
      for (const { name } of files) {
        const file = opened.get(name)!;
        for (const tensor of file.names()) {
          const other = where.get(tensor);
          if (other !== undefined) {
            throw new WeightStoreError(`tensor "${tensor}" appears in both "${other.name}" and "${file.name}"`);
          }
          where.set(tensor, file);
        }
      }
    }
    if (textPrefixes.length === 0) return new WeightStore(where);
    const renamed = new Map<string, SafetensorsFile>();
    const aliases = new Map<string, string>();
    for (const [name, file] of where) {
      const prefix = textPrefixes.find((p) => name.startsWith(p));
      if (prefix) {
        const short = `model.${name.slice(prefix.length)}`;
        renamed.set(short, file);
        aliases.set(short, name);
      } else if (/^(model\.(layers\.|embed_tokens\.|norm\.)|lm_head\.)/.test(name)) renamed.set(name, file);
    }
    return new WeightStore(renamed, aliases);
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  private file(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (f === undefined) throw new WeightStoreError(`the checkpoint has no tensor "${name}"`);
    return f;
  }

  info(name: string): WeightInfo {
    const f = this.file(name);
    return { ...f.info(this.storedName(name)), file: f.name };
  }

  raw(name: string): Promise<Uint8Array> {
    return this.file(name).raw(this.storedName(name));
  }

  float32(name: string): Promise<Float32Array> {
    return this.file(name).float32(this.storedName(name));
  }

  /** Every tensor of decoder layer `i`, keyed without the `model.layers.{i}.` prefix. */
  async layer(i: number): Promise<Map<string, Float32Array>> {
    const prefix = layerPrefix(i);
    const names = this.names().filter((n) => n.startsWith(prefix));
    if (names.length === 0) throw new WeightStoreError(`the checkpoint has no tensors for layer ${i}`);
    const arrays = await Promise.all(names.map((n) => this.float32(n)));
    return new Map(names.map((n, k) => [n.slice(prefix.length), arrays[k]]));
  }

  /**
   * Checks, from the headers alone, that every tensor `spec` needs is present with its shape
   * and a float dtype, and that no layer carries a bias the graph would silently drop.
   */
  async validateAgainst(spec: ModelSpec): Promise<void> {
    const expected = expectedTensors(spec);
    const problems: string[] = [];
    for (const [name, shape] of expected) {
      const f = this.where.get(name);
      if (f === undefined) {
        problems.push(`missing tensor "${name}" (expected shape ${fmt(shape)})`);
        continue;
      }
      const info = f.info(this.storedName(name));
      if (info.shape.length !== shape.length || info.shape.some((d, k) => d !== shape[k])) {
        problems.push(`tensor "${name}" in ${f.name} has shape ${fmt(info.shape)}, expected ${fmt(shape)}`);
      }
      if (!isFloatDtype(info.dtype)) {
        problems.push(`tensor "${name}" in ${f.name} has dtype ${info.dtype}, expected F32, F16 or BF16`);
      }
    }
    for (const name of this.where.keys()) {
      if (name.endsWith('.bias') && !expected.has(name)) {
        problems.push(`unexpected tensor "${name}": this ${spec.modelType} config has no such bias, so it would be ignored`);
      } else if (name.endsWith('norm.weight') && !expected.has(name)) {
        problems.push(`unexpected tensor "${name}": this ${spec.modelType} config has no such norm, so it would be ignored`);
      }
    }
    if (problems.length > 0) {
      const shown = problems.slice(0, SHOW_PROBLEMS).join('; ');
      const more = problems.length > SHOW_PROBLEMS ? `; … and ${problems.length - SHOW_PROBLEMS} more` : '';
      throw new WeightMismatchError(
        `the checkpoint does not match its config (${problems.length} problem${problems.length > 1 ? 's' : ''}): ${shown}${more}`,
        problems,
      );
    }
  }
}
