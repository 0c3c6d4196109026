/**
 * DecodingTrust's output files, read into one shape every perspective's `rescore` starts from.
 *
 * DecodingTrust writes (and publishes) a model's outputs in a few layouts:
 * - a JSON list of `[messages, completion]` pairs (`json.dump(cache)` of its chat helper), or one
 *   such pair per line (JSON Lines);
 * - a JSON object `{requests, responses, labels?}` (fairness, adversarial demonstrations, AdvGLUE);
 * - one record per line holding the completion's `choices` list, or a record with `continuation` /
 *   `response` / `message` (toxicity), or perspective-specific fields the perspective reads itself.
 * A completion is an OpenAI chat completion (`choices[i].message.content`), a legacy completion
 * (`choices[i].text`), a bare `choices` list, or a plain string.
 *
 * The cell or setting of a file is usually in its path (`counterfactual/<task>/…`), so every
 * reader keeps the path the user gave and `pathAfter` finds the part below a perspective folder.
 */
import type { AnnotateContext, BaseItem, ChatMessage, DataFile, EvalRecord, Perspective, PerspectiveScore } from './types';
import { EvalError } from './types';
import { isObject } from './loaders';
import { asText, normPath } from './parse-util';
import { makePrompt } from './common';

/** One cached generation: the prompt messages, the completion's texts, and the source line (JSONL). */
export interface CachedGeneration {
  messages: ChatMessage[];
  outputs: string[];
  /** A label stored with the completion (DecodingTrust stores it for GPT models in machine ethics). */
  label?: unknown;
  /** The raw record, for perspectives that read more fields than the texts (privacy, toxicity scores). */
  raw: unknown;
  /** 1-based line of a JSON Lines record; 0 for a record inside a JSON document. */
  line: number;
}

export interface CachedFile {
  path: string;
  generations: CachedGeneration[];
  /** `labels` of a `{requests, responses, labels}` document. */
  labels?: unknown[];
  /** Other top-level fields of a JSON object document (e.g. stored `scores`). */
  extra?: Record<string, unknown>;
}

export function asMessages(v: unknown): ChatMessage[] {
  const list = isObject(v) && Array.isArray(v.messages) ? v.messages : v;
  if (typeof list === 'string') return [{ role: 'user', content: list }];
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((m) => ({
    role: (['system', 'user', 'assistant'].includes(String(m.role)) ? m.role : 'user') as ChatMessage['role'],
    content: String(m.content ?? ''),
  }));
}

function choiceText(ch: unknown): string {
  if (typeof ch === 'string') return ch;
  if (!isObject(ch)) return String(ch ?? '');
  if (isObject(ch.message)) return String(ch.message.content ?? '');
  return String(ch.text ?? '');
}

/** Every choice's text of a completion (chat completion, legacy completion, bare choices list, string). */
export function completionTexts(c: unknown): string[] {
  if (typeof c === 'string') return [c];
  if (Array.isArray(c)) return c.every((ch) => isObject(ch) && ('message' in ch || 'text' in ch)) ? c.map(choiceText) : [];
  if (!isObject(c)) return [];
  if (Array.isArray(c.choices)) return c.choices.map(choiceText);
  if (typeof c.continuation === 'string') return [c.continuation];
  if (typeof c.content === 'string') return [c.content];
  return [];
}

function fromRecord(v: unknown, line: number): CachedGeneration | null {
  if (Array.isArray(v) && v.length >= 2 && !completionTexts(v).length) {
    const completion = v[1];
    return {
      messages: asMessages(v[0]),
      outputs: completionTexts(completion),
      ...(isObject(completion) && 'label' in completion ? { label: completion.label } : {}),
      raw: v,
      line,
    };
  }
  // A bare `choices` list (adversarial demonstrations publish one per line).
  if (Array.isArray(v)) {
    const outputs = completionTexts(v);
    return outputs.length ? { messages: [], outputs, raw: v, line } : null;
  }
  if (isObject(v)) {
    const outputs = v.response !== undefined ? completionTexts(v.response) : completionTexts(v);
    return { messages: asMessages(v.message ?? v.messages ?? v.prompt ?? []), outputs, raw: v, line };
  }
  return null;
}

function fromDocument(path: string, doc: Record<string, unknown>): CachedFile {
  const requests = Array.isArray(doc.requests) ? doc.requests : [];
  const responses = doc.responses as unknown[];
  const generations = responses.map((r, i) => ({ messages: asMessages(requests[i] ?? []), outputs: completionTexts(r), raw: r, line: 0 }));
  const { requests: _q, responses: _r, labels, ...extra } = doc;
  return { path, generations, ...(Array.isArray(labels) ? { labels } : {}), ...(Object.keys(extra).length ? { extra } : {}) };
}

/** Reads any of the layouts above (in file order); a line that is not JSON is an error naming file and line. */
export function readCachedFile(file: DataFile): CachedFile {
  const path = file.path;
  const t = asText(file.text).trim();
  if (t === '') throw new EvalError(`${path}: the file is empty`);
  let doc: unknown;
  let whole = true;
  try {
    doc = JSON.parse(t);
  } catch {
    whole = false;
  }
  if (whole) {
    if (isObject(doc) && Array.isArray(doc.responses)) return fromDocument(path, doc);
    if (Array.isArray(doc) && doc.every((v) => Array.isArray(v) && v.length >= 2 && !completionTexts(v).length)) {
      const generations = doc.map((v, i) => fromRecord(v, 0) ?? failAt(path, i + 1, 'not a [messages, completion] pair'));
      return { path, generations };
    }
    // A JSON list of `choices` lists, one per item (adversarial demonstrations' published generations).
    if (Array.isArray(doc) && doc.length > 0 && doc.every((v) => Array.isArray(v) && v.length > 0 && completionTexts(v).length)) {
      return { path, generations: doc.map((v) => ({ messages: [], outputs: completionTexts(v), raw: v, line: 0 })) };
    }
    const single = fromRecord(doc, 1);
    if (single) return { path, generations: [single] };
    throw new EvalError(`${path}: expected a list of [messages, completion] pairs, {requests, responses} or JSON Lines`);
  }
  const generations: CachedGeneration[] = [];
  const lines = t.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[i]);
    } catch (e) {
      throw new EvalError(`${path} line ${i + 1}: not JSON (${(e as Error).message})`);
    }
    if (isObject(v) && Array.isArray(v.responses)) {
      generations.push(...fromDocument(path, v).generations.map((g) => ({ ...g, line: i + 1 })));
      continue;
    }
    const g = fromRecord(v, i + 1);
    if (!g) throw new EvalError(`${path} line ${i + 1}: not a DecodingTrust output record`);
    generations.push(g);
  }
  return { path, generations };
}

function failAt(path: string, entry: number, message: string): never {
  throw new EvalError(`${path} entry ${entry}: ${message}`);
}

/**
 * The part of `path` below the last `folder` segment (`…/adv_demonstration/generations/backdoor/x.jsonl`
 * after `generations` → `backdoor/x.jsonl`); undefined when no segment is `folder`.
 */
export function pathAfter(path: string, folder: string): string | undefined {
  const parts = normPath(path).split('/');
  const at = parts.lastIndexOf(folder);
  return at < 0 ? undefined : parts.slice(at + 1).join('/');
}

export function lastUser(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].role === 'user') return messages[i].content;
  return '';
}

/** A record as the perspective's scorer takes it, for an output that came from a file. */
export function cachedRecord<I extends { id: string; cell: string }>(
  item: I,
  messages: ChatMessage[],
  output: string,
  sample = 0,
): EvalRecord<I, never> {
  const prompt = makePrompt(item, 'main', { kind: 'chat', messages }, { maxNewTokens: 0, temperature: 0, n: 1 });
  return { item, prompt, output, sample };
}

/** Adds notes (dropped or unmatched items, skipped files) to a score, keeping the scorer's own. */
export function withNotes(score: PerspectiveScore, notes: readonly string[]): PerspectiveScore {
  return notes.length ? { ...score, notes: [...(score.notes ?? []), ...notes] } : score;
}

/** Parses each output with the perspective's parser, runs its annotation (toxicity), and scores. */
export async function scoreParsed<Item extends BaseItem, Parsed>(
  perspective: Perspective<Item, Parsed>,
  records: readonly EvalRecord<Item, never>[],
  seed = 0,
  ctx: AnnotateContext = {},
): Promise<PerspectiveScore> {
  let parsed: EvalRecord<Item, Parsed>[] = records.map((r) => ({
    ...r,
    parsed: perspective.parse(r.item, r.prompt, r.output ?? '', { seed }),
  }));
  if (perspective.annotate) parsed = await perspective.annotate(parsed, ctx);
  return perspective.score(parsed, 'generate', { seed });
}
