// Import rules for src/ and workers/, run by `npm run lint:deps` (and so by `npm test`).
// docs/design.md explains the layers; this file is where they are enforced.

/**
 * The layers, lowest first: a module may import its own layer and any layer before it, never
 * one after it. Each entry is a name and the path (a regular expression from the repository root)
 * of the files it holds. The rules below are generated from this one list.
 */
const LAYERS = [
  ['util', '^src/lib/util/'],
  ['eval', '^src/lib/eval/'],
  ['storage', '^src/lib/storage/'],
  ['model', '^src/lib/model/'],
  ['onnx', '^src/lib/onnx/'],
  ['compress/reference', '^src/lib/compress/reference/'],
  ['gpu', '^src/lib/gpu/'],
  ['infer', '^src/lib/infer/'],
  ['compress/engine', '^src/lib/compress/engine/'],
  ['bench', '^src/lib/bench/'],
  ['variants', '^src/lib/variants/'],
  ['run', '^src/lib/run/'],
  ['report', '^src/lib/report/'],
  ['app', '^src/lib/app/'],
  ['state', '^src/state/'],
  ['components', '^src/components/'],
  ['page', '^src/(App\\.svelte|main\\.ts)$'],
  // Node entries (`npm run build:node`): the engine outside a page, for `--runtime node`.
  ['node', '^src/node/'],
];

const layerRules = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `layer-${name.replace('/', '-')}`,
  comment: `${name} is below ${LAYERS.slice(i + 1)
    .map(([n]) => n)
    .join(', ')}: it must not import them (docs/design.md, "Layers").`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included: each module can be read after the ones it imports.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'node-without-page',
      comment: 'The Node entries run src/lib without a page: no page state, component or Svelte.',
      severity: 'error',
      from: { path: '^src/node/' },
      to: { path: ['^src/(state|components)/', '^src/(App\\.svelte|main\\.ts)$', '\\.svelte(\\.ts|\\.js)?$'] },
    },
    {
      name: 'lib-in-a-layer',
      comment: 'Every folder of src/lib is a layer of the list at the top of this file, so the rules above cover it.',
      severity: 'error',
      from: { path: '^src/lib/', pathNot: LAYERS.map(([, p]) => p) },
      to: {},
    },
    {
      name: 'lib-without-svelte',
      comment: 'src/lib is plain TypeScript: Svelte (runes, components, stores) belongs to src/state and src/components.',
      severity: 'error',
      from: { path: '^src/lib/' },
      // `svelte` itself may stay unresolved (its exports have no condition the resolver asks for).
      to: { path: ['^svelte(/|$)', '(^|/)node_modules/svelte/', '\\.svelte(\\.ts|\\.js)?$'] },
    },
    {
      name: 'workers-expose-lib',
      comment: 'A worker only exposes a src/lib service through comlink; the page talks to it from src/state.',
      severity: 'error',
      from: { path: '^workers/' },
      to: { pathNot: ['^src/lib/', '(^|/)node_modules/comlink/'] },
    },
    {
      name: 'shaders-from-gpu',
      comment: 'Only the gpu layer loads shaders (as `?raw` text).',
      severity: 'error',
      from: { pathNot: '^src/lib/gpu/' },
      to: { path: '^shaders/' },
    },
    {
      name: 'shaders-only-wgsl',
      comment: 'shaders/ holds WGSL only.',
      severity: 'error',
      from: {},
      to: { path: '^shaders/', pathNot: '\\.wgsl$' },
    },
    {
      name: 'no-tests-in-app',
      comment: 'Code that ships never imports test code.',
      severity: 'error',
      from: {},
      to: { path: '^tests/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'A relative import that cannot be resolved would hide an edge from every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^\\.\\.?/' },
    },
  ],
  options: {
    // Type-only imports count: a cycle through types is still a cycle for the reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // node_modules is not followed but stays visible, so the rules can name packages.
    exclude: { path: '^dist/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.svelte', '.json'] },
  },
};
