/**
 * A small cache of answers that may be a little stale: positive entries live 30 s (or as
 * long as the owner says), negative ones 5 s (something created meanwhile is seen soon;
 * a flood of one unknown name costs one lookup each 5 s). It holds the lookup's promise,
 * so callers that ask at once share one lookup and see its answer in the order they
 * asked. Bounded, oldest out first; losing it loses nothing.
 */
const TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

export class TtlMap<V> {
  private readonly entries = new Map<string, { value: Promise<V>; until: number }>();

  constructor(
    private readonly maxEntries = MAX_ENTRIES,
    /** How long a positive answer lives (Infinity: until it is pushed out or forgotten). */
    private readonly ttlMs = TTL_MS,
  ) {}

  get(key: string, load: () => Promise<V>, isNegative: (v: V) => boolean): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const entry = { value: load(), until: Date.now() + this.ttlMs };
    this.entries.set(key, entry);
    entry.value.then(
      (v) => {
        if (isNegative(v)) entry.until = Math.min(entry.until, Date.now() + NEGATIVE_TTL_MS);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.value;
  }

  /** Drops `prefix` and every key under `prefix/`. */
  forget(prefix: string): void {
    for (const k of this.entries.keys()) if (k === prefix || k.startsWith(`${prefix}/`)) this.entries.delete(k);
  }
}
