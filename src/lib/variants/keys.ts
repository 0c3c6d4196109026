/** Cache keys of compressed variants: `variant:<baseKey>:<settings slug>[.<calibration tag>]`. */
export const VARIANT_PREFIX = 'variant:';

/** Whether a cache key names a compressed variant rather than a downloaded model. */
export function isVariantKey(key: string): boolean {
  return key.startsWith(VARIANT_PREFIX);
}
