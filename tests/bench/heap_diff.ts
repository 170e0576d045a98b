/**
 * Compares two V8 heap snapshots (`BENCH_HEAP`): what the second holds beyond the first,
 * grouped by node type and constructor / name, largest first, with per-connection figures
 * when the number of connections is given.
 *
 * Usage: `deno run --allow-read tests/bench/heap_diff.ts before.heapsnapshot after.heapsnapshot [n]`
 *
 * @module
 */

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

/** Self size and count per `type:name` group. */
export function groups(snap: Snapshot): Map<string, Group> {
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? "?";
    let name = snap.strings[snap.nodes[i + nameAt]!] ?? "?";
    // Strings and code are grouped by type only: their "names" are their contents.
    if (type === "string" || type === "concatenated string" || type === "sliced string") {
      name = "";
    } else if (type === "code" || type === "number") name = "";
    else name = name.slice(0, 60);
    const key = `${type}:${name}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + sizeAt]!;
    out.set(key, g);
  }
  return out;
}

if (import.meta.main) {
  const [beforePath, afterPath, nText] = Deno.args;
  if (!beforePath || !afterPath) {
    throw new Error("usage: heap_diff.ts before.heapsnapshot after.heapsnapshot [n]");
  }
  const load = async (path: string) => JSON.parse(await Deno.readTextFile(path)) as Snapshot;
  const before = groups(await load(beforePath));
  const after = groups(await load(afterPath));
  const n = Number(nText) || 1;
  const rows = [...after].map(([key, g]) => {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: g.count - b.count, bytes: g.bytes - b.bytes };
  }).filter((r) => r.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  const total = rows.reduce((a, r) => a + r.bytes, 0);
  // deno-lint-ignore no-console
  const print = (line: string) => console.log(line);
  print(
    `grown by ${(total / 1024).toFixed(0)} KB in all, ${(total / n).toFixed(0)} B per connection`,
  );
  print("bytes/conn  objs/conn  group");
  for (const r of rows.slice(0, Number(Deno.env.get("HEAP_ROWS")) || 45)) {
    print(
      `${(r.bytes / n).toFixed(0).padStart(10)}  ${(r.count / n).toFixed(2).padStart(9)}  ${r.key}`,
    );
  }
}
