/**
 * Checking one record's shape: a RecordError names what is wrong, and `collect` turns it into a
 * LoadError at the record's file and line so the loader can keep the file's other records.
 */
import type { LoadError } from '../types';

/** A record that does not have the shape a loader needs; the loader reports it and goes on. */
export class RecordError extends Error {
  override name = 'RecordError';
}

export function fail(message: string): never {
  throw new RecordError(message);
}

export type Json = Record<string, unknown>;

/**
 * Past this many bad lines or records a file is not the format it claims to be: the reader stops
 * with "stopped after N errors in FILE" instead of collecting (and later re-reporting) millions.
 */
export const MAX_LOAD_ERRORS = 100;

/** The error that ends a file once it holds MAX_LOAD_ERRORS bad lines or records. */
export function stopped(file: string, line: number): LoadError {
  return { file, line, message: `stopped after ${MAX_LOAD_ERRORS} errors in ${file}; the rest of the file is not read` };
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, what: string): Json {
  if (!isObject(v)) fail(`${what}: expected an object, got ${describe(v)}`);
  return v;
}

export function expectString(v: unknown, what: string, { allowEmpty = false } = {}): string {
  if (typeof v !== 'string') fail(`${what}: expected a string, got ${describe(v)}`);
  if (!allowEmpty && v.trim() === '') fail(`${what}: empty string`);
  return v;
}

export function expectArray(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what}: expected an array, got ${describe(v)}`);
  return v;
}

export function expectInteger(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) fail(`${what}: expected an integer, got ${describe(v)}`);
  return n;
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

/** Runs `build` on one record; a RecordError becomes a LoadError at `line`, anything else propagates. */
export function collect<T>(file: string, line: number, errors: LoadError[], build: () => T): T | undefined {
  try {
    return build();
  } catch (e) {
    if (e instanceof RecordError) {
      errors.push({ file, line, message: e.message });
      return undefined;
    }
    throw e;
  }
}
