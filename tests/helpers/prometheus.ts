/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws on
 * anything a Prometheus server would reject or that breaks the format's rules (bad names,
 * bad escapes, samples before their TYPE, a family split in two, duplicate series, histogram
 * buckets out of order or disagreeing with `_count`). The one npm parser
 * (parse-prometheus-text-format) is unmaintained and accepts malformed input, so it could
 * not catch a broken exposition.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family. */
export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses `text`; throws an Error naming the line for any violation. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  const lines = text.split("\n");
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("exposition must end with \\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ""] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`${where}: bad metric name`);
      let family = families.get(name!);
      if (family && family !== current) throw new Error(`${where}: family ${name} split`);
      if (!family) {
        family = { name: name!, type: "untyped", help: undefined, samples: [] };
        families.set(name!, family);
      }
      current = family;
      if (kind === "HELP") {
        if (family.help !== undefined) throw new Error(`${where}: second HELP`);
        family.help = unescapeHelp(rest, where);
      } else {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`);
        if (family.samples.length > 0) throw new Error(`${where}: TYPE after samples`);
        family.type = rest as Family["type"];
      }
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, current);
    if (!family) throw new Error(`${where}: sample outside its family's block`);
    const id = `${sample.name}{${
      Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${v}`).join(",")
    }}`;
    if (series.has(id)) throw new Error(`${where}: duplicate series ${id}`);
    series.add(id);
    if (family.type === "counter" && !(sample.value >= 0)) {
      throw new Error(`${where}: counter below zero`);
    }
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

/** The family a sample name belongs to, if it is the current block's. */
function familyOf(name: string, current: Family | undefined): Family | undefined {
  if (!current) return undefined;
  if (name === current.name) return current.type === "histogram" ? undefined : current;
  const suffixes = current.type === "histogram"
    ? ["_bucket", "_sum", "_count"]
    : current.type === "summary"
    ? ["_sum", "_count"]
    : [];
  return suffixes.some((s) => name === current.name + s) ? current : undefined;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)(?: (-?\d+))?$/.exec(line);
  if (!m) throw new Error(`${where}: not a sample line`);
  const [, name, labelText, valueText] = m;
  return {
    name: name!,
    labels: parseLabels(labelText ?? "", where),
    value: parseValue(valueText!, where),
  };
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === "") return labels;
  let i = 1; // past "{"
  const end = text.length - 1; // the "}"
  while (i < end) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`${where}: label without value`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    }
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
    let value = "";
    let j = eq + 2;
    for (; j < end; j++) {
      const c = text[j]!;
      if (c === '"') break;
      if (c === "\n") throw new Error(`${where}: raw newline in label value`);
      if (c === "\\") {
        const n = text[++j];
        if (n === "\\") value += "\\";
        else if (n === '"') value += '"';
        else if (n === "n") value += "\n";
        else throw new Error(`${where}: bad escape \\${n}`);
      } else value += c;
    }
    if (text[j] !== '"') throw new Error(`${where}: unterminated label value`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i !== end) throw new Error(`${where}: expected , or } after label ${name}`);
  }
  return labels;
}

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`${where}: bad value ${text}`);
  }
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new Error(`${where}: bad escape in HELP`);
  });
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
  for (const s of family.samples) {
    const key = keyOf(s.labels);
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith("_bucket")) {
      if (s.labels.le === undefined) throw new Error(`${family.name}: bucket without le`);
      g.buckets.push([parseValue(s.labels.le, family.name), s.value]);
    } else if (s.name.endsWith("_count")) g.count = s.value;
  }
  for (const g of groups.values()) {
    let prevLe = -Infinity;
    let prevCount = 0;
    for (const [le, count] of g.buckets) {
      if (!(le > prevLe)) throw new Error(`${family.name}: buckets not in increasing le order`);
      if (count < prevCount) throw new Error(`${family.name}: bucket counts decrease`);
      prevLe = le;
      prevCount = count;
    }
    if (prevLe !== Infinity) throw new Error(`${family.name}: no +Inf bucket`);
    if (g.count !== prevCount) throw new Error(`${family.name}: +Inf bucket != _count`);
  }
}

/** The value of the one sample of `family` whose labels include `labels`; throws otherwise. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
  if (!family) throw new Error(`no family ${name}`);
  const hits = family.samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  if (hits.length !== 1) {
    throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  }
  return hits[0]!.value;
}
