/**
 * Group commit: work handed in while `lanes` batches run waits, and goes
 * together with the next batch as far as `fits` lets it. Alone, an item goes
 * at once; under load batches grow by themselves (a cohort's jobs share one
 * remote command). Each item gets its own outcome.
 */
export interface BatcherOptions<I> {
  /** Whether `next` may join `batch` (default: always). */
  fits?: (batch: I[], next: I) => boolean;
  /** Batches running at once (default 1). */
  lanes?: number;
}

export class Batcher<I, O> {
  #run: (items: I[]) => Promise<PromiseSettledResult<O>[]>;
  #fits: (batch: I[], next: I) => boolean;
  #lanes: number;
  #queue: { item: I; resolve: (o: O) => void; reject: (err: unknown) => void }[] = [];
  #active = 0;
  #scheduled = false;

  constructor(
    run: (items: I[]) => Promise<PromiseSettledResult<O>[]>,
    opts: BatcherOptions<I> = {},
  ) {
    this.#run = run;
    this.#fits = opts.fits ?? (() => true);
    this.#lanes = Math.max(1, opts.lanes ?? 1);
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // From the next microtask: items handed in during the same turn share a batch.
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    });
  }

  #pump(): void {
    while (this.#active < this.#lanes && this.#queue.length > 0) {
      const batch = [this.#queue.shift()!];
      while (
        this.#queue.length > 0 && this.#fits(batch.map((b) => b.item), this.#queue[0]!.item)
      ) {
        batch.push(this.#queue.shift()!);
      }
      this.#active++;
      this.#settle(batch).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }

  async #settle(
    batch: { item: I; resolve: (o: O) => void; reject: (err: unknown) => void }[],
  ): Promise<void> {
    let settled: PromiseSettledResult<O>[];
    try {
      settled = await this.#run(batch.map((b) => b.item));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    batch.forEach((b, i) => {
      const s = settled[i];
      if (s?.status === "fulfilled") b.resolve(s.value);
      else b.reject(s ? s.reason : new Error("a batch returned no outcome for an item"));
    });
  }
}
