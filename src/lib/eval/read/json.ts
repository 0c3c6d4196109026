import type { DataFile, LoadError } from '../types';
import { asText } from '../parse-util';
import { LineIndex } from './line-index';
import { MAX_LOAD_ERRORS, type Json } from './records';

/** Deeper nesting than any benchmark file has; bounds the recursive JSON parser's stack. */
export const MAX_JSON_DEPTH = 256;

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
    this.elements('an array', ']', (start) => {
      arr.push(this.value());
      offsets.push(start);
    });
    return arr;
  }

  private object(): Json {
    const obj: Json = {};
    const members = new Map<string, number>();
    this.starts.set(obj, this.i);
    this.memberStarts.set(obj, members);
    this.elements('an object', '}', (start) => {
      if (this.s[this.i] !== '"') this.error('expected a string key');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.error('expected ":"');
      this.i++;
      const v = this.value();
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      members.set(key, start);
    });
    return obj;
  }

  /**
   * The elements of the array or object whose opening bracket is at `this.i`, up to `close`;
   * `read` reads one element (value or member) that starts at `start`. Empty elements are skipped.
   */
  private elements(what: string, close: ']' | '}', read: (start: number) => void): void {
    this.i++;
    const frame = this.enter();
    const depth = this.stack.length;
    for (;;) {
      this.ws();
      if (this.i >= this.s.length) {
        this.issues.push({ offset: this.i, message: `unexpected end of input inside ${what}` });
        break;
      }
      const c = this.s[this.i];
      if (c === close) {
        this.i++;
        break;
      }
      if (c === ',') {
        this.i++; // empty element (lenient)
        continue;
      }
      frame.elementStart = this.i;
      try {
        read(frame.elementStart);
        this.ws();
        if (this.i >= this.s.length) continue;
        const d = this.s[this.i];
        if (d === ',') this.i++;
        else if (d !== close) {
          frame.elementStart = this.i;
          this.error(`expected "," or "${close}"`);
        }
      } catch (e) {
        this.recover(frame, depth, e);
      }
    }
    this.stack.pop();
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
