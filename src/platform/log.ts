/**
 * The relay's logger: one JSON line per entry, level-gated, with children that carry
 * context (`source`, `component`). This is the only module that writes to the console.
 * Every line passes through a redactor so configured secrets never reach the output.
 *
 * @module
 */

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured, level-gated logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields`. */
  child(fields: LogFields): Logger;
}

/** Where finished lines go; the default writes to stdout/stderr. */
export type LogSink = (level: LogLevel, line: string) => void;

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  sink?: LogSink;
  /** Applied to every finished line, e.g. to mask secrets. */
  redact?: (text: string) => string;
  now?: () => number;
}

function defaultSink(level: LogLevel, line: string): void {
  // deno-lint-ignore no-console
  if (level === "error" || level === "warn") console.error(line);
  // deno-lint-ignore no-console
  else console.log(line);
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message };
  }
  return value;
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const sink = options.sink ?? defaultSink;
  const redact = options.redact ?? ((s: string) => s);
  const now = options.now ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const entry: LogFields = { time: new Date(now()).toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) entry[k] = errorFields(v);
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({ time: entry.time, level, msg, note: "unserialisable fields" });
    }
    sink(level, redact(line));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that drops everything (tests that do not inspect logs). */
export const silentLogger: Logger = createLogger({ level: "silent" });
