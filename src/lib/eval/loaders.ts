/**
 * Readers for the native formats (JSON Lines, CSV, JSON documents, NumPy .npy) that keep line
 * numbers, so a loader can reject one malformed line or record with its file and line and keep
 * the rest. They take contents, never paths: the same code reads files fetched by the page and
 * files read by node in tests.
 */
import Papa from 'papaparse';
import { parse as parseNpyBuffer } from 'npyjs';
import type { DataFile, LoadError } from './types';
import { asBytes, asText } from './parse-util';

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

/** Deeper nesting than any benchmark file has; bounds the recursive JSON parser's stack. */
export const MAX_JSON_DEPTH = 256;

function stopped(file: string, line: number): LoadError {
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

// ---------------------------------------------------------------------------------------------
// Line positions

/** Offsets of line starts, for offset → 1-based line (and column) lookups. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  line(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
  column(offset: number): number {
    return offset - this.starts[this.line(offset) - 1] + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON Lines

export interface LineValue {
  value: unknown;
  line: number;
  /** Position among the file's non-blank lines (malformed ones included), 0-based. */
  ordinal: number;
}

/** One JSON value per non-blank line; a line that is not JSON is an error at that line. */
export function readJsonLines(file: DataFile): { records: LineValue[]; errors: LoadError[] } {
  const text = asText(file.text);
  const records: LineValue[] = [];
  const errors: LoadError[] = [];
  const lines = text.split('\n');
  let ordinal = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '') continue;
    try {
      records.push({ value: JSON.parse(raw), line: i + 1, ordinal: ordinal++ });
    } catch (e) {
      ordinal++;
      errors.push({ file: file.path, line: i + 1, message: `not valid JSON: ${(e as Error).message}` });
      if (errors.length >= MAX_LOAD_ERRORS) {
        errors.push(stopped(file.path, i + 1));
        break;
      }
    }
  }
  return { records, errors };
}

// ---------------------------------------------------------------------------------------------
// CSV

export interface CsvRow {
  cells: string[];
  /** Line where the row starts (a quoted field may span lines). */
  line: number;
}

/**
 * RFC 4180 CSV through papaparse. With `header`, the first row names the columns and every row must
 * have as many fields. A row papaparse cannot parse (bad quoting) is reported at its first line and
 * parsing restarts on the next line, so one broken quote does not swallow the rest of the file.
 */
export function readCsv(
  file: DataFile,
  { header, columns }: { header: boolean; columns?: number },
): { header: string[] | null; rows: CsvRow[]; errors: LoadError[] } {
  const text = asText(file.text);
  const index = new LineIndex(text);
  const rows: CsvRow[] = [];
  const errors: LoadError[] = [];
  let head: string[] | null = null;
  let expected = columns;
  let offset = 0;
  for (;;) {
    if (offset >= text.length) break;
    if (errors.length >= MAX_LOAD_ERRORS) {
      errors.push(stopped(file.path, index.line(offset)));
      break;
    }
    let restartAt = -1;
    let prevCursor = 0;
    const chunk = text.slice(offset);
    Papa.parse<string[]>(chunk, {
      delimiter: ',',
      newline: '\n',
      step: (result, parser) => {
        const rowStart = offset + prevCursor;
        prevCursor = result.meta.cursor;
        const line = index.line(rowStart);
        if (result.errors.length > 0) {
          errors.push({ file: file.path, line, message: `CSV: ${result.errors[0].message}` });
          const nl = text.indexOf('\n', rowStart);
          restartAt = nl < 0 ? text.length : nl + 1;
          parser.abort();
          return;
        }
        const cells = result.data;
        if (cells.length === 1 && cells[0] === '') return; // blank line
        if (header && head === null) {
          head = cells.map((c) => c.trim());
          expected = head.length;
          return;
        }
        if (expected !== undefined && cells.length !== expected) {
          errors.push({ file: file.path, line, message: `expected ${expected} fields, got ${cells.length}` });
          if (errors.length >= MAX_LOAD_ERRORS) {
            const nl = text.indexOf('\n', rowStart);
            restartAt = nl < 0 ? text.length : nl + 1;
            parser.abort();
          }
          return;
        }
        rows.push({ cells, line });
      },
    });
    if (restartAt < 0) break;
    offset = restartAt;
  }
  if (header && head === null) errors.push({ file: file.path, line: 0, message: 'empty file: no header row' });
  return { header: head, rows, errors };
}

/** CSV rows as objects keyed by the header (the header must hold `required`). */
export function readCsvObjects(
  file: DataFile,
  required: readonly string[],
): { rows: Array<{ row: Record<string, string>; line: number }>; errors: LoadError[] } {
  const { header, rows, errors } = readCsv(file, { header: true });
  if (header === null) return { rows: [], errors };
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    errors.push({ file: file.path, line: 1, message: `header lacks column(s) ${missing.join(', ')}` });
    return { rows: [], errors };
  }
  return {
    rows: rows.map(({ cells, line }) => ({ row: Object.fromEntries(header.map((h, i) => [h, cells[i]])), line })),
    errors,
  };
}

// ---------------------------------------------------------------------------------------------
// JSON documents

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    /** Start of the innermost array element / object member the error is in (or will start). */
    readonly elementStart: number | undefined,
    /** Depth of the container that holds that element (which frame recovers). */
    readonly depth = -1,
    /** The error budget is spent: the file is given up. */
    readonly budgetSpent = false,
  ) {
    super(message);
  }
}

interface Frame {
  elementStart: number;
}

/**
 * A small JSON parser that remembers where every array, object, array element and object member
 * starts. Lenient about empty elements and trailing commas (so a dropped element leaves a valid
 * document) and about unclosed containers at end of input.
 */
class LocatedJsonParser {
  private i = 0;
  private readonly stack: Frame[] = [];
  readonly starts = new WeakMap<object, number>();
  readonly memberStarts = new WeakMap<object, Map<string, number>>();
  readonly elementStarts = new WeakMap<object, number[]>();
  readonly issues: Array<{ offset: number; message: string }> = [];
  private static readonly NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

  constructor(private readonly s: string) {}

  parse(): unknown {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i < this.s.length) this.error('unexpected content after the JSON document');
    return v;
  }

  private error(message: string, at = this.i): never {
    const top = this.stack[this.stack.length - 1];
    throw new JsonSyntaxError(message, at, top?.elementStart, this.stack.length);
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
    }
    this.i = i;
  }

  private value(): unknown {
    this.ws();
    if (this.i >= this.s.length) this.error('unexpected end of input');
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    return this.error(`unexpected character ${JSON.stringify(c)}`);
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) this.error(`unexpected token`);
    this.i += word.length;
    return v;
  }

  private number(): number {
    const re = LocatedJsonParser.NUMBER;
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) this.error('malformed number');
    this.i += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    const s = this.s;
    let i = this.i + 1;
    let start = i;
    let out = '';
    for (;;) {
      if (i >= s.length) this.error('unterminated string', i);
      const c = s.charCodeAt(i);
      if (c === 34) {
        out += s.slice(start, i);
        this.i = i + 1;
        return out;
      }
      if (c === 92) {
        out += s.slice(start, i);
        const e = s[i + 1];
        if (e === 'u') {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.error('bad \\u escape', i);
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else {
          const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
          if (e === undefined || !(e in map)) this.error('bad escape', i);
          out += map[e];
          i += 2;
        }
        start = i;
        continue;
      }
      if (c < 0x20) this.error(c === 10 ? 'unterminated string (line ends inside it)' : 'control character in string', i);
      i++;
    }
  }

  /** Called by a container when one of its elements failed; returns false to give up on the file. */
  onElementError: (e: JsonSyntaxError) => boolean = () => false;

  private enter(): Frame {
    if (this.stack.length >= MAX_JSON_DEPTH) {
      throw new JsonSyntaxError(`nested deeper than ${MAX_JSON_DEPTH} levels`, this.i, undefined);
    }
    const frame: Frame = { elementStart: this.i };
    this.stack.push(frame);
    return frame;
  }

  /**
   * A syntax error inside the element this frame is reading: the element is dropped (skipped to
   * its end) and reading goes on, in one pass over the text. Errors meant for an outer frame, or
   * past the error budget, propagate.
   */
  private recover(frame: Frame, depth: number, e: unknown): void {
    if (!(e instanceof JsonSyntaxError) || e.elementStart === undefined || e.depth !== depth) throw e;
    if (!this.onElementError(e)) throw new JsonSyntaxError(e.message, e.offset, undefined, -1, true);
    this.stack.length = depth;
    this.i = Math.max(elementEnd(this.s, frame.elementStart), Math.min(frame.elementStart + 1, this.s.length));
  }

  private array(): unknown[] {
    const arr: unknown[] = [];
    const offsets: number[] = [];
    this.starts.set(arr, this.i);
    this.elementStarts.set(arr, offsets);
    this.i++;
    const frame = this.enter();
    const depth = this.stack.length;
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) {
        this.issues.push({ offset: this.i, message: 'unexpected end of input inside an array' });
        break;
      }
      const c = this.s[this.i];
      if (c === ']') {
        this.i++;
        break;
      }
      if (c === ',') {
        this.i++; // empty element (lenient)
        continue;
      }
      frame.elementStart = this.i;
      try {
        const v = this.value();
        arr.push(v);
        offsets.push(frame.elementStart);
        this.ws();
        if (this.i >= this.s.length) continue;
        const d = this.s[this.i];
        if (d === ',') this.i++;
        else if (d !== ']') {
          frame.elementStart = this.i;
          this.error('expected "," or "]"');
        }
      } catch (e) {
        this.recover(frame, depth, e);
      }
    }
    this.stack.pop();
    return arr;
  }

  private object(): Json {
    const obj: Json = {};
    const members = new Map<string, number>();
    this.starts.set(obj, this.i);
    this.memberStarts.set(obj, members);
    this.i++;
    const frame = this.enter();
    const depth = this.stack.length;
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) {
        this.issues.push({ offset: this.i, message: 'unexpected end of input inside an object' });
        break;
      }
      const c = this.s[this.i];
      if (c === '}') {
        this.i++;
        break;
      }
      if (c === ',') {
        this.i++;
        continue;
      }
      frame.elementStart = this.i;
      try {
        if (c !== '"') this.error('expected a string key');
        const key = this.string();
        this.ws();
        if (this.s[this.i] !== ':') this.error('expected ":"');
        this.i++;
        const v = this.value();
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        members.set(key, frame.elementStart);
        this.ws();
        if (this.i >= this.s.length) continue;
        const d = this.s[this.i];
        if (d === ',') this.i++;
        else if (d !== '}') {
          frame.elementStart = this.i;
          this.error('expected "," or "}"');
        }
      } catch (e) {
        this.recover(frame, depth, e);
      }
    }
    this.stack.pop();
    return obj;
  }
}

/**
 * End of the element that starts at `start`: the next "," or closing bracket at its own nesting
 * level, or the end of its line when it opened no bracket there (a JSON string cannot span lines,
 * so a newline also ends a string during this scan).
 */
function elementEnd(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  let content = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      else if (c === '\n') {
        inString = false;
        if (depth === 0) return i;
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      content = true;
    } else if (c === '{' || c === '[') {
      depth++;
      content = true;
    } else if (c === '}' || c === ']') {
      if (depth === 0) return i;
      depth--;
    } else if (c === ',' && depth === 0) return i;
    else if (c === '\n' && depth === 0 && content) return i;
    else if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') content = true;
  }
  return s.length;
}

export interface LocatedJson {
  /** The document (undefined when nothing could be recovered). */
  value: unknown;
  errors: LoadError[];
  /** 1-based line where an array or object starts. */
  lineOf(node: object): number;
  /** 1-based line where an array element or object member starts (0 if unknown). */
  memberLine(container: object, key: string | number): number;
}

/**
 * A JSON document with line numbers. A syntax error drops the innermost element or member that
 * holds it (reported at the error's line) and parsing restarts, so a bad line costs that line's
 * record, not the file. (A one-line document loses the element around the error.)
 */
export function readJson(file: DataFile, maxRecoveries = MAX_LOAD_ERRORS): LocatedJson {
  const text = asText(file.text);
  const index = new LineIndex(text);
  const errors: LoadError[] = [];
  const parser = new LocatedJsonParser(text);
  parser.onElementError = (e) => {
    const line = index.line(e.offset);
    const start = e.elementStart ?? e.offset;
    const dropped = index.line(start) === line ? '' : ` (the element starting at line ${index.line(start)})`;
    errors.push({ file: file.path, line, message: `not valid JSON: ${e.message} (column ${index.column(e.offset)}); dropped${dropped}` });
    return errors.length < maxRecoveries;
  };
  try {
    const value = parser.parse();
    for (const issue of parser.issues) errors.push({ file: file.path, line: index.line(issue.offset), message: issue.message });
    return {
      value,
      errors,
      lineOf: (node) => {
        const o = parser.starts.get(node);
        return o === undefined ? 0 : index.line(o);
      },
      memberLine: (container, key) => {
        const o = Array.isArray(container)
          ? parser.elementStarts.get(container)?.[key as number]
          : parser.memberStarts.get(container)?.get(String(key));
        return o === undefined ? 0 : index.line(o);
      },
    };
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const line = index.line(e.offset);
    errors.push(
      e.budgetSpent
        ? { file: file.path, line, message: `stopped after ${maxRecoveries} errors in ${file.path}; file skipped` }
        : { file: file.path, line, message: `not valid JSON: ${e.message} (column ${index.column(e.offset)}); file skipped` },
    );
    return { value: undefined, errors, lineOf: () => 0, memberLine: () => 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// NumPy .npy

export interface NpyData {
  values: Array<number | string | boolean>;
  shape: number[];
  dtype: string;
}

/** Element sizes of the dtypes the fairness files use (the itemsize of `<U` is 4 bytes per character). */
const NPY_ITEM = /^[<>|=]?(?:([biuf])(1|2|4|8)|(U)(\d+)|(\?))$/;

/**
 * The header of a .npy file, checked before npyjs reads it: a dtype it can read with a non-zero
 * item size, and a shape that the data section actually holds (a `<U0` array or a shape larger
 * than the data would otherwise spin or read past the end).
 */
function checkNpyHeader(bytes: Uint8Array, path: string): void {
  const fail = (why: string): never => {
    throw new RecordError(`${path}: not a readable .npy file: ${why}`);
  };
  if (bytes.byteLength < 10 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY' || bytes[0] !== 0x93) fail('no NUMPY magic');
  const major = bytes[6];
  const lenBytes = major >= 2 ? 4 : 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 + lenBytes) fail('truncated header');
  const headerLen = lenBytes === 4 ? view.getUint32(8, true) : view.getUint16(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.byteLength) fail(`the header (${headerLen} bytes) runs past the end of the file`);
  const header = new TextDecoder().decode(bytes.subarray(8 + lenBytes, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) fail('the header has no descr or shape');
  const m = NPY_ITEM.exec(descr!);
  if (!m) fail(`unsupported dtype ${descr}`);
  const itemSize = m![2] ? Number(m![2]) : m![3] ? 4 * Number(m![4]) : 1;
  if (itemSize === 0) fail(`dtype ${descr} has elements of 0 bytes`);
  const dims = shapeText!
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  if (!dims.every((d) => /^\d+$/.test(d))) fail(`malformed shape (${shapeText})`);
  const count = dims.reduce((a, d) => a * Number(d), 1);
  const need = count * itemSize;
  if (!Number.isSafeInteger(need) || need > bytes.byteLength - dataStart)
    fail(`shape (${dims.join(', ')}) of ${descr} needs ${need} bytes but the file holds ${bytes.byteLength - dataStart}`);
}

/** A 1-D (or flattened) .npy array; int64 become numbers, unicode arrays strings (npyjs). */
export function readNpy(file: DataFile): NpyData {
  const bytes = asBytes(file.text);
  checkNpyHeader(bytes, file.path);
  let arr;
  try {
    arr = parseNpyBuffer(bytes.buffer);
  } catch (e) {
    throw new RecordError(`${file.path}: not a readable .npy file: ${(e as Error).message}`);
  }
  const data = arr.data as unknown;
  let values: Array<number | string | boolean>;
  if (Array.isArray(data)) values = data as Array<string | boolean>;
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array) values = Array.from(data, (v) => Number(v));
  else values = Array.from(data as ArrayLike<number>);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  return { values: values.slice(0, count), shape: arr.shape, dtype: arr.dtype };
}
