/**
 * What delivery metrics are told, and the two ways every transport tells it: once per
 * shared-stream batch, or once per frame of an unshared stream. Never once per socket write.
 *
 * @module
 */
import type { Event } from "../model/event.ts";
import type { RelayContext } from "./context.ts";
import type { OnBatch } from "./shared_streams.ts";

/** What delivery metrics are told; every call is per batch, never per socket write. */
export interface DeliveryObserver {
  /**
   * `count` next messages carrying `event` were written to clients; `live` is false for
   * replayed events (`after:`), whose age is not delivery lag.
   */
  delivered(event: Event, count: number, live: boolean): void;
  /** A client socket closed with `code`. */
  closed(code: number): void;
}

/**
 * The batch hook a shared stream's starter hands its group: the starter's context is the one
 * execution uses, so it holds each result's event. Shared streams never replay (live).
 */
export function countBatches(
  observer: DeliveryObserver | undefined,
  context: RelayContext,
): OnBatch | undefined {
  return observer && ((n) => context.lastEvent && observer.delivered(context.lastEvent, n, true));
}

/** Counts one frame of an unshared stream; events received before `startedAt` are replays. */
export function countFrame(
  observer: DeliveryObserver | undefined,
  context: RelayContext,
  startedAt: number,
): void {
  const event = context.lastEvent;
  if (observer && event) observer.delivered(event, 1, Date.parse(event.receivedAt) >= startedAt);
}
