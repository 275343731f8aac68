/**
 * A deep copy that may be changed: the functions that default, prepare or patch objects
 * build their result on a draft, so that their input (readonly data) never changes.
 */

export type Draft<T> = T extends string | number | boolean | bigint | null | undefined
  ? T
  : T extends readonly (infer U)[]
    ? Draft<U>[]
    : T extends object
      ? { -readonly [K in keyof T]: Draft<T[K]> }
      : T;

export function draft<T>(value: T): Draft<T> {
  return structuredClone(value) as Draft<T>;
}
