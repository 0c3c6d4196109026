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
  for (let restarts = 0; offset < text.length && restarts < 10_000; restarts++) {
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
    throw new JsonSyntaxError(message, at, top?.elementStart);
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

  private array(): unknown[] {
    const arr: unknown[] = [];
    const offsets: number[] = [];
    this.starts.set(arr, this.i);
    this.elementStarts.set(arr, offsets);
    this.i++;
    const frame: Frame = { elementStart: this.i };
    this.stack.push(frame);
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
    const frame: Frame = { elementStart: this.i };
    this.stack.push(frame);
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
export function readJson(file: DataFile, maxRecoveries = 100): LocatedJson {
  const original = asText(file.text);
  const index = new LineIndex(original);
  const errors: LoadError[] = [];
  let text = original;
  for (let attempt = 0; attempt <= maxRecoveries; attempt++) {
    const parser = new LocatedJsonParser(text);
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
      if (e.elementStart === undefined) {
        errors.push({ file: file.path, line, message: `not valid JSON: ${e.message} (column ${index.column(e.offset)}); file skipped` });
        break;
      }
      const start = e.elementStart;
      const end = Math.max(elementEnd(text, start), Math.min(start + 1, text.length));
      const dropped = index.line(start) === line ? '' : ` (the element starting at line ${index.line(start)})`;
      errors.push({ file: file.path, line, message: `not valid JSON: ${e.message} (column ${index.column(e.offset)}); dropped${dropped}` });
      text = text.slice(0, start) + text.slice(start, end).replace(/[^\n]/g, ' ') + text.slice(end);
      if (attempt === maxRecoveries) errors.push({ file: file.path, line: 0, message: `too many JSON errors; file skipped` });
    }
  }
  return { value: undefined, errors, lineOf: () => 0, memberLine: () => 0 };
}

// ---------------------------------------------------------------------------------------------
// NumPy .npy

export interface NpyData {
  values: Array<number | string | boolean>;
  shape: number[];
  dtype: string;
}

/** A 1-D (or flattened) .npy array; int64 become numbers, unicode arrays strings (npyjs). */
export function readNpy(file: DataFile): NpyData {
  const bytes = asBytes(file.text);
  let arr;
  try {
    arr = parseNpyBuffer(bytes.buffer);
  } catch (e) {
    throw new RecordError(`not a readable .npy file: ${(e as Error).message}`);
  }
  const data = arr.data as unknown;
  let values: Array<number | string | boolean>;
  if (Array.isArray(data)) values = data as Array<string | boolean>;
  else if (data instanceof BigInt64Array || data instanceof BigUint64Array) values = Array.from(data, (v) => Number(v));
  else values = Array.from(data as ArrayLike<number>);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  return { values: values.slice(0, count), shape: arr.shape, dtype: arr.dtype };
}
