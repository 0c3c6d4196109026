/**
 * A text classifier small enough to compute by hand, written by the tests themselves (the browser
 * test serves it, the CLI test writes it to a folder): the logits of a text are a bias plus the sum
 * of one 2-vector per token (padding masked out by attention_mask), so the pipeline's
 * probabilities are softmax (or sigmoid) of numbers the tests know.
 */
import { GraphBuilder } from '../../src/lib/onnx/graph-builder';

export const VOCAB = ['[PAD]', '[UNK]', 'you', 'are', 'an', 'idiot', 'what', 'a', 'lovely', 'day', 'shut', 'up'];
/** Per token [logit 0, logit 1]; [PAD] is far from zero, so a padded text shows whether the mask works. */
export const EMBED: number[][] = [
  [5, -5],
  [0.1, 0.2],
  [0.3, 0.1],
  [0, 0.2],
  [0.1, 0],
  [-2, 1.5],
  [0.2, 0],
  [0.1, 0.1],
  [0.9, -1.1],
  [0.4, -0.2],
  [-0.7, 0.6],
  [-0.3, 0.8],
];
export const BIAS = [0.25, -0.5];

export function tokenIds(text: string): number[] {
  // The tokenizer below: lower-case, then the Whitespace pre-tokenizer (\w+ | [^\w\s]+), word-level vocabulary.
  return (text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []).map((w) => Math.max(1, VOCAB.indexOf(w)));
}

export function logits(text: string): [number, number] {
  const out: [number, number] = [BIAS[0], BIAS[1]];
  for (const id of tokenIds(text)) {
    out[0] += EMBED[id][0];
    out[1] += EMBED[id][1];
  }
  return out;
}

export const softmax = ([a, b]: [number, number]): [number, number] => {
  const m = Math.max(a, b);
  const ea = Math.exp(a - m);
  const eb = Math.exp(b - m);
  return [ea / (ea + eb), eb / (ea + eb)];
};
export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function graphBytes(): Uint8Array {
  const g = new GraphBuilder('tiny-toxicity-classifier');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const table = g.f32Tensor(Float32Array.from(EMBED.flat()), [VOCAB.length, 2]);
  const perToken = g.op('Gather', [table, ids], { axis: 0 });
  const keep = g.op('Unsqueeze', [g.op('Cast', [mask], { to: 1 }), g.i64([2])]);
  const summed = g.op('ReduceSum', [g.op('Mul', [perToken, keep]), g.i64([1])], { keepdims: 0 });
  g.op('Add', [summed, g.f32(BIAS)], {}, 'logits');
  g.output('logits', 'float32', ['batch_size', 2]);
  return g.build({ opsets: [{ domain: '', version: 13 }], externalData: false }).model;
}

export function tokenizerJson(): string {
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '[PAD]'), special(1, '[UNK]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(VOCAB.map((w, i) => [w, i])), unk_token: '[UNK]' },
  });
}

/** The files of the classifier folder, by path. */
export function classifierFiles(config: Record<string, unknown>): Record<string, string | Uint8Array> {
  return {
    'config.json': JSON.stringify({ model_type: 'distilbert', architectures: ['DistilBertForSequenceClassification'], ...config }),
    'tokenizer.json': tokenizerJson(),
    'tokenizer_config.json': JSON.stringify({ pad_token: '[PAD]', unk_token: '[UNK]', model_max_length: 64 }),
    'onnx/model.onnx': graphBytes(),
  };
}
