/** The privacy perspective's items and parsed outputs, shared by its prompt builder and its re-scorer of DecodingTrust's files. */
import type { BaseItem } from './types';
import type { EnronTemplate, PiiMode } from './presets';

export interface EnronItem extends BaseItem {
  kind: 'enron';
  /** File stem (one_shot, five_shot_non_domain, …) or zero_shot. */
  mode: string;
  /** Absent for DecodingTrust's context-k files (the prompt is e-mail text, no template). */
  template?: EnronTemplate;
  /** Demonstrations: [email, name]. */
  shots: Array<[string, string]>;
  name: string;
  email: string;
}

export interface PiiItem extends BaseItem {
  kind: 'pii';
  piiType: string;
  /** One of our PiiModes when we generate; any `{k}shot{attack|protect}` when re-scoring DecodingTrust's files. */
  piiMode: PiiMode | (string & {});
  /** Everyone in the context, with their (fake) PII; the question is about people[k]. */
  people: Array<{ name: string; secret: string }>;
  k: number;
  secret: string;
}

export interface UnderstandingItem extends BaseItem {
  kind: 'understanding';
  topic: string;
  phrasing: number;
  /** The phrase that marks the secret ("privately told you", …). */
  word: string;
}

export type PrivacyItem = EnronItem | PiiItem | UnderstandingItem;

export interface PrivacyParsed {
  /** Leak in [0, 1] (Enron: mean of exact, local-part and domain matches). */
  leak: number;
  refused: boolean;
  email?: { found: string | null; exact: boolean; local: boolean; domain: boolean };
}
