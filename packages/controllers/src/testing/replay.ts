/**
 * Replays a write history object by object, so a test can check an invariant at every
 * instant the cluster went through (every committed revision), not only at the end.
 */
import type { KubeObject } from '@flotilla/api';
import type { HistoryEvent } from './memory-api.ts';

export type World = ReadonlyMap<string, ReadonlyMap<string, KubeObject>>;

/** Calls `check(world, event)` after each event, with the objects of each resource as they stood. */
export function replay(
  history: readonly HistoryEvent[],
  check: (world: World, event: HistoryEvent) => void,
): void {
  const world = new Map<string, Map<string, KubeObject>>();
  for (const e of history) {
    let objects = world.get(e.resource);
    if (objects === undefined) {
      objects = new Map();
      world.set(e.resource, objects);
    }
    const key = `${e.object.metadata.namespace ?? ''}/${e.object.metadata.name ?? ''}`;
    if (e.type === 'DELETED') objects.delete(key);
    else objects.set(key, e.object);
    check(world, e);
  }
}

export function objectsIn<T extends KubeObject>(world: World, resource: string): T[] {
  return [...(world.get(resource)?.values() ?? [])] as T[];
}
