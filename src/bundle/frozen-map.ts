/**
 * A read-only map that cannot be changed at run time either: unlike a `Map` typed as
 * `ReadonlyMap`, it has no `set`, `delete` or `clear` to reach with a cast or from JavaScript, so
 * an immutable bundle can hand it out without copying. Internal; the public type is `ReadonlyMap`.
 */
export class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #map: Map<K, V>;

  constructor(entries: Iterable<readonly [K, V]> = []) {
    this.#map = new Map(entries);
    Object.freeze(this);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#map) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[K, V]> {
    return this.#map.entries();
  }

  keys(): MapIterator<K> {
    return this.#map.keys();
  }

  values(): MapIterator<V> {
    return this.#map.values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map.entries();
  }

  readonly [Symbol.toStringTag] = 'FrozenMap';
}

/** Whether `value` looks like a (Readonly)Map rather than a plain record. */
export function isMapLike<K, V>(value: unknown): value is ReadonlyMap<K, V> {
  return (
    value instanceof Map ||
    value instanceof FrozenMap ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { get?: unknown }).get === 'function' &&
      typeof (value as { entries?: unknown }).entries === 'function' &&
      typeof (value as { has?: unknown }).has === 'function')
  );
}
