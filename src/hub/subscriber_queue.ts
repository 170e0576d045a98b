/**
 * A bounded single-consumer async queue that is also the subscription's async iterator:
 * `return()` detaches it at once (releasing upstream interest) instead of on the next
 * event, and overflow ends it with an error rather than growing without bound.
 *
 * @module
 */

/** Options for {@link SubscriberQueue}. */
export interface SubscriberQueueOptions {
  /** Most items held before the consumer is declared too slow. */
  maxItems: number;
  /** Called once when the queue ends for any reason (return, failure). */
  onClose: () => void;
  /** The error to end with on overflow. */
  overflowError: () => Error;
}

/** A bounded push queue consumed as an `AsyncIterableIterator`. */
export class SubscriberQueue<T> implements AsyncIterableIterator<T> {
  readonly #opts: SubscriberQueueOptions;
  readonly #items: T[] = [];
  #head = 0;
  #waiter: PromiseWithResolvers<IteratorResult<T>> | undefined;
  #error: Error | undefined;
  #closed = false;

  constructor(opts: SubscriberQueueOptions) {
    this.#opts = opts;
  }

  /** True once ended (returned, failed, or overflowed). */
  get closed(): boolean {
    return this.#closed || this.#error !== undefined;
  }

  /** Items waiting for the consumer. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item; returns false when the queue is closed or just overflowed. */
  push(item: T): boolean {
    if (this.#closed || this.#error) return false;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: item, done: false });
      return true;
    }
    if (this.length >= this.#opts.maxItems) {
      this.fail(this.#opts.overflowError());
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** Ends the queue with an error; queued items are discarded. */
  fail(error: Error): void {
    if (this.#closed || this.#error) return;
    this.#error = error;
    this.#items.length = 0;
    this.#head = 0;
    this.#opts.onClose();
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      this.#closed = true;
      w.reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.length > 0) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined as T;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items.splice(0, this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#error) {
      const err = this.#error;
      this.#closed = true;
      return Promise.reject(err);
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    this.#waiter = Promise.withResolvers();
    return this.#waiter.promise;
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.#closed) {
      this.#closed = true;
      this.#items.length = 0;
      this.#head = 0;
      if (!this.#error) this.#opts.onClose();
      this.#waiter?.resolve({ value: undefined, done: true });
      this.#waiter = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
