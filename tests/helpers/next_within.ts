/**
 * Awaiting an async iterator with a deadline, for unit tests of queues and streams.
 *
 * @module
 */

/** The next item within `ms`, or a failure naming the wait. */
export async function nextWithin<T>(
  it: AsyncIterator<T>,
  ms = 1000,
): Promise<IteratorResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no item within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
