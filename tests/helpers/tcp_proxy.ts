/**
 * A loopback TCP proxy in front of a relay, so a test can cut every client connection at
 * once (no WebSocket close frame: the client sees the network drop, 1006) and point the same
 * address at a restarted relay listening on a new port.
 *
 * @module
 */

/** A running proxy. */
export interface TcpProxy extends AsyncDisposable {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Where new connections go from now on. */
  retarget(port: number): void;
  /** Cuts every open connection (both sides) at once. */
  dropAll(): void;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let target = targetPort;
  let accepted = 0;
  const pairs = new Set<[Deno.Conn, Deno.Conn]>();
  const shut = (pair: [Deno.Conn, Deno.Conn]) => {
    if (!pairs.delete(pair)) return;
    for (const c of pair) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true, preventCancel: true });
    } catch {
      // a side went away
    }
  };
  const serve = async (client: Deno.Conn) => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
    } catch {
      client.close();
      return;
    }
    const pair: [Deno.Conn, Deno.Conn] = [client, upstream];
    pairs.add(pair);
    await Promise.race([pipe(client, upstream), pipe(upstream, client)]);
    shut(pair);
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        serve(conn);
      }
    } catch {
      // listener closed
    }
  })();
  const dropAll = () => {
    for (const pair of [...pairs]) shut(pair);
  };
  const close = async () => {
    listener.close();
    dropAll();
    await accepting;
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    retarget: (port) => (target = port),
    dropAll,
    close,
    [Symbol.asyncDispose]: close,
  };
}
