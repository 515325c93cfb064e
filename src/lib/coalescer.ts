// Gathers calls that arrive close together into one batch call (DataLoader's idea, for writes): each caller
// awaits its own result or its own error, while the API sees one request for the lot. Batches run one at a
// time; a batch goes when it is full or its first item has waited `lingerMs`.

export interface CoalescerOptions<I, O> {
  /** Runs one batch; returns one outcome per item, in order: its result, or the Error that item failed with. */
  run(items: I[]): Promise<(O | Error)[]>;
  /** At most this many items per batch: a full batch runs at once. */
  maxItems: number;
  /** How long an item waits for company (longer when a batch is running: batches go one at a time). */
  lingerMs: number;
  /** Whether an item can join a batch holding `batch` (a batch may not hold two writes of the same record). */
  fits?(item: I, batch: readonly I[]): boolean;
}

interface Pending<I, O> {
  item: I;
  /** When it was added (ms): the first item of the next batch waits at most lingerMs from then. */
  at: number;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export class Coalescer<I, O> {
  private queue: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** flush() was asked while a batch ran: the next one goes as soon as it ends. */
  private flushAsked = false;

  constructor(private readonly options: CoalescerOptions<I, O>) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, at: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Sends what is gathered now (after the running batch, if one runs). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) {
      this.flushAsked = true;
      return;
    }
    this.flushAsked = false;
    if (this.queue.length === 0) return;
    const batch = this.cut();
    this.running = true;
    void this.options
      .run(batch.map((p) => p.item))
      .then(
        (outcomes) => {
          batch.forEach((pending, i) => {
            const outcome = outcomes[i];
            if (outcome instanceof Error) pending.reject(outcome);
            else if (outcome === undefined)
              pending.reject(new Error('the batch returned no outcome for this item'));
            else pending.resolve(outcome);
          });
        },
        // The whole call failed (network, auth, throttling): every item fails with that error, and each caller's
        // retry policy decides as if it had made the call alone.
        (error: unknown) => {
          for (const pending of batch) pending.reject(error);
        },
      )
      .finally(() => {
        this.running = false;
        if (this.flushAsked) this.flush();
        else this.schedule();
      });
  }

  /** A full batch goes now; otherwise the oldest waiting item decides when (lingerMs after it arrived). */
  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxItems) {
      this.flush();
      return;
    }
    if (this.timer) return;
    const waited = Date.now() - this.queue[0]!.at;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.options.lingerMs - waited));
  }

  /** Takes the next batch off the queue: in arrival order, up to maxItems, skipping items that do not fit. */
  private cut(): Pending<I, O>[] {
    const batch: Pending<I, O>[] = [];
    const rest: Pending<I, O>[] = [];
    for (const pending of this.queue) {
      const fits =
        batch.length < this.options.maxItems &&
        (!this.options.fits ||
          this.options.fits(
            pending.item,
            batch.map((p) => p.item),
          ));
      (fits ? batch : rest).push(pending);
    }
    this.queue = rest;
    return batch;
  }
}
