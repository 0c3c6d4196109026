import { diffArrays } from 'diff';

/**
 * How a text is split before two texts are aligned. The model's own tokens are not available
 * here: the streamer hands over word-sized chunks and stored answers keep only their text.
 */
export const TOKEN_UNIT = 'words, spaces and punctuation';

export type SpanKind = 'same' | 'first' | 'changed';

export interface DiffSpan {
  text: string;
  kind: SpanKind;
  /**
   * Set on an empty `first` span standing where this side has no token at the point the texts
   * part: `end` when this side stops there, `gap` when the other side has tokens this one lacks.
   */
  mark?: 'end' | 'gap';
}

export interface Divergence {
  left: DiffSpan[];
  right: DiffSpan[];
  /** Index (from 0) of the first token where the texts part; null when they do not (yet). */
  firstIndex: number | null;
  /** Offset of that token in the text, in UTF-16 units as `String.slice` counts; the texts agree before it. */
  firstChar: number | null;
}

export interface DivergenceOptions {
  /** The left text may still grow (streaming): running out early is not yet a divergence. */
  leftOpen?: boolean;
  rightOpen?: boolean;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/** Words, whitespace runs and punctuation marks, in order; joined they give the text back. */
export function tokenize(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Appends a span, merging it into the previous one when both are `same` or both `changed`. */
function push(spans: DiffSpan[], span: DiffSpan): void {
  const last = spans.at(-1);
  if (last && span.kind !== 'first' && last.kind === span.kind) last.text += span.text;
  else spans.push(span);
}

/** Pushes a run of tokens; a `first` run marks only its first token, the rest count as changed. */
function pushTokens(spans: DiffSpan[], tokens: string[], kind: SpanKind): void {
  tokens.forEach((text, i) => push(spans, { text, kind: kind === 'first' && i > 0 ? 'changed' : kind }));
}

/**
 * Aligns two texts token by token and marks, on both sides, the first token where they part
 * and every later difference.
 */
export function divergence(left: string, right: string, opts: DivergenceOptions = {}): Divergence {
  const a = tokenize(left);
  const b = tokenize(right);
  let firstIndex = 0;
  while (firstIndex < a.length && firstIndex < b.length && a[firstIndex] === b[firstIndex]) firstIndex++;
  const firstChar = a.slice(0, firstIndex).join('').length;
  const identical = firstIndex === a.length && firstIndex === b.length;
  // A side still streaming whose rest is the start of the other side's rest has not parted yet
  // (its last word may even be cut short).
  const pending =
    (opts.leftOpen && right.slice(firstChar).startsWith(left.slice(firstChar))) ||
    (opts.rightOpen && left.slice(firstChar).startsWith(right.slice(firstChar)));
  if (identical || pending) {
    return {
      left: a.length ? [{ text: left, kind: 'same' }] : [],
      right: b.length ? [{ text: right, kind: 'same' }] : [],
      firstIndex: null,
      firstChar: null,
    };
  }

  const spans = { left: [] as DiffSpan[], right: [] as DiffSpan[] };
  const changes = diffArrays(a, b);
  const first = changes.findIndex((c) => c.added || c.removed);
  changes.forEach((change, i) => {
    if (!change.added && !change.removed) {
      pushTokens(spans.left, change.value, 'same');
      pushTokens(spans.right, change.value, 'same');
      return;
    }
    // A replacement is a removal followed by an addition: then both sides hold a first token.
    const replaced = changes[first].removed && changes[first + 1]?.added;
    const opening = i === first || (replaced && i === first + 1);
    pushTokens(change.removed ? spans.left : spans.right, change.value, opening ? 'first' : 'changed');
    if (i === first && !replaced) {
      const other = change.removed ? b : a;
      (change.removed ? spans.right : spans.left).push({ text: '', kind: 'first', mark: firstIndex === other.length ? 'end' : 'gap' });
    }
  });
  return { ...spans, firstIndex, firstChar };
}

/** The one-line summary shown with an aligned pair. */
export function divergenceLabel(d: Divergence): string {
  return d.firstIndex === null ? 'no divergence' : `parts at token ${d.firstIndex + 1}`;
}
