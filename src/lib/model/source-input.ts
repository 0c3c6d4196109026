/**
 * What a person types for a model (the page's box, the planner's toxicity classifier, `ctlab
 * --model`) as a source. Apart from `sources.ts` because it checks the page's policy, and the
 * page-policy module itself builds on `sources.ts`.
 */
import { assertAllowedByPagePolicy } from './page-policy';
import { ModelSourceError, hubSource, urlSource, type ModelSource } from './sources';

/** Parses what a person typed: a hub id (`org/name[@rev]`) or an http(s) base URL. */
export function parseSourceInput(text: string): ModelSource {
  const value = text.trim();
  if (!value) throw new ModelSourceError('Type a Hugging Face model id (org/name) or a base URL');
  if (/^https?:\/\//i.test(value)) {
    const src = urlSource(value);
    if (typeof location !== 'undefined' && src.kind === 'url') assertAllowedByPagePolicy(src.baseUrl, location.origin);
    return src;
  }
  const [repo, revision] = value.split('@');
  return hubSource(repo, revision || 'main');
}
