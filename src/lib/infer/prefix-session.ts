import { Tensor } from '@huggingface/transformers';
import type { ModelSpec } from '../model/spec';
import { newKeyName, prefixKeyName } from '../onnx';

/** The parts of an ORT session transformers.js and the batch decoder use. */
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly { name: string }[];
  readonly outputMetadata?: readonly { name: string }[];
  run(feeds: Record<string, unknown>, ...rest: unknown[]): Promise<Record<string, unknown>>;
}

/** The graph's shared-prefix input names, layer by layer. */
export function prefixInputNames(spec: ModelSpec): string[] {
  return Array.from({ length: spec.numLayers }, (_, i) => [prefixKeyName(i, 'key'), prefixKeyName(i, 'value')]).flat();
}

/** Whether a session's graph takes a shared prefix (graphs built before it do not). */
export function takesPrefix(session: OrtSessionLike, spec: ModelSpec): boolean {
  return prefixInputNames(spec).every((n) => session.inputNames.includes(n));
}

/** The graph's outputs of a pass's own keys and values, layer by layer. */
export function newKeyNames(spec: ModelSpec): string[] {
  return Array.from({ length: spec.numLayers }, (_, i) => [newKeyName(i, 'key'), newKeyName(i, 'value')]).flat();
}

/** Whether a session's graph hands back a pass's own keys and values (graphs before version 5 do not). */
export function givesNewKeys(session: OrtSessionLike, spec: ModelSpec): boolean {
  return newKeyNames(spec).every((n) => session.outputNames.includes(n));
}

/** An empty key or value input [rows, kv_heads, 0, head_dim] (an ORT tensor). */
export function emptyKv(spec: ModelSpec, rows: number): Tensor['ort_tensor'] {
  return new Tensor('float32', new Float32Array(0), [rows, spec.numKvHeads, 0, spec.headDim]).ort_tensor;
}

/** The shared-prefix inputs, empty: the graph is then the plain decoder. */
export function emptyPrefixFeeds(spec: ModelSpec): Record<string, unknown> {
  return Object.fromEntries(prefixInputNames(spec).map((name) => [name, emptyKv(spec, 1)]));
}

/**
 * The session as transformers.js should see it: a plain decoder. Its prefix inputs are hidden
 * from `inputNames` and `inputMetadata` (transformers.js refuses to run a session whose inputs it
 * cannot name) and every run without them gets them empty, which computes exactly the plain
 * decoder. Its `new_key_values` outputs are hidden too and left unfetched: transformers.js
 * carries `present` from step to step. The batch decoder runs the session itself, with a real
 * prefix.
 */
export function plainDecoderView<S extends OrtSessionLike>(session: S, spec: ModelSpec): S {
  if (!takesPrefix(session, spec)) return session;
  const hidden = new Set(prefixInputNames(spec));
  const unfetched = new Set(givesNewKeys(session, spec) ? newKeyNames(spec) : []);
  const outputs = session.outputNames.filter((n) => !unfetched.has(n));
  const empty = emptyPrefixFeeds(spec);
  const view = Object.create(session) as S;
  Object.defineProperties(view, {
    inputNames: { value: session.inputNames.filter((n) => !hidden.has(n)) },
    inputMetadata: { value: session.inputMetadata?.filter((m) => !hidden.has(m.name)) },
    outputNames: { value: outputs },
    outputMetadata: { value: session.outputMetadata?.filter((m) => !unfetched.has(m.name)) },
    run: {
      value: (feeds: Record<string, unknown>, ...rest: unknown[]) =>
        rest.length === 0 && unfetched.size > 0
          ? session.run({ ...empty, ...feeds }, outputs)
          : session.run({ ...empty, ...feeds }, ...rest),
    },
  });
  return view;
}
