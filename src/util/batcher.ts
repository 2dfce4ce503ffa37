/**
 * Group commit: work handed in while a batch runs waits, and goes together
 * with the next batch as far as `fits` lets it. Alone, an item goes at once;
 * under load batches grow by themselves (a cohort's jobs share one remote
 * command). Each item gets its own outcome.
 */
export class Batcher<I, O> {
  #run: (items: I[]) => Promise<PromiseSettledResult<O>[]>;
  #fits: (batch: I[], next: I) => boolean;
  #queue: { item: I; resolve: (o: O) => void; reject: (err: unknown) => void }[] = [];
  #busy = false;

  constructor(
    run: (items: I[]) => Promise<PromiseSettledResult<O>[]>,
    fits: (batch: I[], next: I) => boolean = () => true,
  ) {
    this.#run = run;
    this.#fits = fits;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#busy) return;
      this.#busy = true;
      // From the next microtask: items handed in during the same turn share the first batch.
      queueMicrotask(() => this.#drain());
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = [this.#queue.shift()!];
        while (
          this.#queue.length > 0 && this.#fits(batch.map((b) => b.item), this.#queue[0]!.item)
        ) {
          batch.push(this.#queue.shift()!);
        }
        let settled: PromiseSettledResult<O>[];
        try {
          settled = await this.#run(batch.map((b) => b.item));
        } catch (err) {
          for (const b of batch) b.reject(err);
          continue;
        }
        batch.forEach((b, i) => {
          const s = settled[i];
          if (s?.status === "fulfilled") b.resolve(s.value);
          else b.reject(s ? s.reason : new Error("a batch returned no outcome for an item"));
        });
      }
    } finally {
      // In the same turn as the last look at the queue: a later add() starts a new drain.
      this.#busy = false;
    }
  }
}
