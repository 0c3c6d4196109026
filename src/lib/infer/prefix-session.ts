import { Tensor } from '@huggingface/transformers';
import type { ModelSpec } from '../model/spec';
import { prefixKeyName } from '../onnx';

/** The parts of an ORT session transformers.js and the batch decoder use. */
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly inputMetadata?: readonly { name: string }[];
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

/**
 * The session as transformers.js should see it: a plain decoder. Its prefix inputs are hidden
 * from `inputNames` and `inputMetadata` (transformers.js refuses to run a session whose inputs it
 * cannot name) and every run without them gets them empty, which computes exactly the plain
 * decoder. The batch decoder runs the session itself, with a real prefix.
 */
export function plainDecoderView<S extends OrtSessionLike>(session: S, spec: ModelSpec): S {
  if (!takesPrefix(session, spec)) return session;
  const hidden = new Set(prefixInputNames(spec));
  const empty = Object.fromEntries(
    [...hidden].map((name) => [name, new Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]).ort_tensor]),
  );
  const view = Object.create(session) as S;
  Object.defineProperties(view, {
    inputNames: { value: session.inputNames.filter((n) => !hidden.has(n)) },
    inputMetadata: { value: session.inputMetadata?.filter((m) => !hidden.has(m.name)) },
    run: { value: (feeds: Record<string, unknown>, ...rest: unknown[]) => session.run({ ...empty, ...feeds }, ...rest) },
  });
  return view;
}
