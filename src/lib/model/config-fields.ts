/** A config.json (or a checkpoint) that is malformed or inconsistent. */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/** A well-formed config for an architecture this project does not build or compress. */
export class UnsupportedModelError extends ModelConfigError {
  override name = 'UnsupportedModelError';
}

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function show(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

/**
 * Typed reads of one config object's fields, each failure naming the file and the field, so
 * that every family module validates the same way.
 */
/**
 * Upper bounds on the shape fields, far above every published checkpoint (the largest open models
 * have ~128 layers, hidden 16k, vocabularies of 256k, contexts of 1M): a config past them is
 * damaged or hostile, and is refused before any table is sized from it or any weight is fetched.
 */
export const SIZE_CAPS: Readonly<Record<string, number>> = {
  num_hidden_layers: 1024,
  hidden_size: 65_536,
  intermediate_size: 262_144,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  vocab_size: 4_194_304,
  max_position_embeddings: 4_194_304,
  sliding_window: 4_194_304,
};

export class ConfigFields {
  constructor(
    readonly json: Json,
    readonly source: string,
  ) {}

  get(key: string): unknown {
    return this.json[key];
  }

  has(key: string): boolean {
    const v = this.json[key];
    return v !== undefined && v !== null;
  }

  fail(key: string, why: string, value: unknown = this.json[key]): never {
    throw new ModelConfigError(`${this.source}: field "${key}" ${why} (got ${show(value)})`);
  }

  requiredInt(key: string): number {
    const v = this.json[key];
    if (v === undefined || v === null) throw new ModelConfigError(`${this.source}: missing required field "${key}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'must be a positive integer');
    const cap = SIZE_CAPS[key];
    if (cap !== undefined && v > cap)
      this.fail(key, `is larger than any model this page can hold (at most ${cap}); the file is probably damaged`);
    return v as number;
  }

  optionalInt(key: string, fallback: number): number {
    return this.has(key) ? this.requiredInt(key) : fallback;
  }

  /** A positive finite number from `value` (by default the field itself), or `fallback` when absent. */
  positiveNumber(key: string, fallback: number, value: unknown = this.json[key]): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ModelConfigError(`${this.source}: field "${key}" must be a positive number (got ${show(value)})`);
    }
    return value;
  }

  optionalPositive(key: string): number | null {
    return this.has(key) ? this.positiveNumber(key, 0) : null;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v as boolean;
  }

  optionalObject(key: string): Json | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    if (!isObject(v)) this.fail(key, 'must be an object or null');
    return v as Json;
  }

  /** Refuses a field whose value would change the maths in a way we do not implement. */
  refuseUnless(key: string, ok: (v: unknown) => boolean, why: string): void {
    const v = this.json[key];
    if (v !== undefined && v !== null && !ok(v)) {
      throw new UnsupportedModelError(`${this.source}: field "${key}" is ${show(v)}; ${why}`);
    }
  }
}
