/**
 * A full event-loop turn, without the timer clamp.
 *
 * Deno's `WebSocket.send` only queues the write: the bytes leave when the event loop next
 * polls I/O. Code that fans out many frames from promise callbacks (microtasks) never
 * returns to the loop, so nothing is written until all of it is done. Yielding with
 * `setTimeout(0)` would let the writes out, but nested timers are clamped to several
 * milliseconds each; a message on a fresh `MessageChannel` comes back after one I/O poll
 * (about 0.05 ms) and leaves nothing open behind it.
 *
 * @module
 */

/** Resolves after the event loop has polled I/O once (pending socket writes proceed). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port2.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port1.postMessage(null);
  });
}
