/** Python literals, as pandas writes dicts into CSV cells (DecodingTrust's stereotype generations). */
import { EvalError } from './types';

/** A Python literal (dict / list / tuple / str / number / True / False / None), as pandas writes dicts into CSV cells. */
export function parsePythonLiteral(src: string): unknown {
  let i = 0;
  const s = src;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const err = (m: string): never => {
    throw new EvalError(`Python literal: ${m} at ${i}`);
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (s[i] === '}') {
          i++;
          return o;
        }
        const k = value();
        ws();
        if (s[i] !== ':') err('expected ":"');
        i++;
        o[String(k)] = value();
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== '}') err('expected "," or "}"');
      }
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const a: unknown[] = [];
      for (;;) {
        ws();
        if (s[i] === close) {
          i++;
          return a;
        }
        a.push(value());
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== close) err(`expected "," or "${close}"`);
      }
    }
    if (c === "'" || c === '"') {
      const q = c;
      i++;
      let out = '';
      while (i < s.length && s[i] !== q) {
        if (s[i] === '\\') {
          const e = s[i + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
          if (e in simple) {
            out += simple[e];
            i += 2;
          } else if (e === 'x' || e === 'u' || e === 'U') {
            const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            out += String.fromCodePoint(parseInt(s.slice(i + 2, i + 2 + len), 16));
            i += 2 + len;
          } else {
            out += '\\';
            i++;
          }
        } else out += s[i++];
      }
      if (s[i] !== q) err('unterminated string');
      i++;
      return out;
    }
    const m = /^(True|False|None|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(s.slice(i));
    if (!m) return err('unexpected character');
    i += m[0].length;
    return m[0] === 'True' ? true : m[0] === 'False' ? false : m[0] === 'None' ? null : Number(m[0]);
  };
  const v = value();
  ws();
  if (i < s.length) err('trailing content');
  return v;
}
