import type { DataFile, LoadError } from '../types';
import { asText } from '../parse-util';
import { MAX_LOAD_ERRORS, stopped } from './records';

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
