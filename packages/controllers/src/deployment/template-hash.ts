/**
 * The pod-template-hash: a short name for a pod template, used in the names of a
 * Deployment's ReplicaSets and in the label that keeps their pods apart. Like
 * Kubernetes' ComputeHash, an FNV-1a 32-bit hash of the template (here its canonical
 * JSON) and the collision count, written with the alphabet of generated names.
 */
import type { PodTemplateSpec } from '@flotilla/api';
import { canonicalJson } from '../json.ts';
import { podTemplateHashLabel } from './rollout-math.ts';

const alphabet = 'bcdfghjklmnpqrstvwxz2456789';

function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(text, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function templateHash(template: PodTemplateSpec | undefined, collisionCount: number): string {
  const text = canonicalJson(template ?? {}) + (collisionCount > 0 ? `#${collisionCount}` : '');
  return [...String(fnv1a32(text))].map((c) => alphabet[c.charCodeAt(0) % alphabet.length]).join('');
}

/** The template without the pod-template-hash label, for comparing templates. */
function withoutHash(template: PodTemplateSpec | undefined): PodTemplateSpec {
  const labels = { ...(template?.metadata?.labels ?? {}) };
  delete labels[podTemplateHashLabel];
  return {
    ...template,
    metadata: { ...template?.metadata, labels },
  };
}

/** Two templates are the same but for the pod-template-hash label (Kubernetes' EqualIgnoreHash). */
export function sameTemplate(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return canonicalJson(withoutHash(a)) === canonicalJson(withoutHash(b));
}
