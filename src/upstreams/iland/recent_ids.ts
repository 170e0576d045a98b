/**
 * A bounded set of recently seen ids, shared by the sockets of one iland source: a
 * USER-owned event (a login, a token refresh) belongs to no company, so every company
 * socket of that user receives it, and it must still be published once.
 *
 * @module
 */

/** Remembers the last `capacity` ids, oldest forgotten first. */
export class RecentIds {
  readonly #capacity: number;
  readonly #ids = new Set<string>();

  constructor(capacity = 4096) {
    this.#capacity = capacity;
  }

  /** Adds `id`; false when it was already there (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      // Sets iterate in insertion order, so the first is the oldest.
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }
}
