/**
 * A kernel's WGSL source assembled from parts: its generated `struct Params`, the shared
 * snippets it calls (`shaders/grid.wgsl`, `quantizer.wgsl`, `nm-rank.wgsl`) and its own file.
 * Snippets are prefixed as text because WGSL has no imports; each part ends with a newline.
 */
export function composeWgsl(...parts: string[]): string {
  return parts.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('\n');
}
