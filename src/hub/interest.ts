/**
 * Interest: what a subscription asks an upstream to send. The hub refcounts items by
 * `key` per source and tells the source's connector the whole current set whenever the
 * set of keys changes; the connector turns that into the vendor's own frames.
 *
 * @module
 */

/** One unit of upstream interest, identified by `key` (e.g. a DRP pattern). */
export interface InterestItem {
  /** Identity for refcounting: equal keys share one upstream registration. */
  readonly key: string;
}

/** The connector side of interest. */
export interface InterestSink {
  /** The complete interest now wanted, keyed by {@link InterestItem.key}. */
  setInterest(items: ReadonlyMap<string, InterestItem>): void;
}
