/**
 * Variant ids and specs live in `variants/spec.ts`; this name stays while `state/automation.ts`
 * still imports it from here.
 */
export { PAPER_GRID, parseVariant, parseVariants, VariantSpecError, type VariantMethod, type VariantSpec } from '../variants/spec';
