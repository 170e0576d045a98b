/**
 * Spans through `@opentelemetry/api`, exported by Deno's built-in OpenTelemetry when the
 * process runs with `OTEL_DENO=true` (Deno registers its providers with the API itself).
 * Whether tracing is on is read once at start-up; when it is off, {@link traced} and
 * {@link tracedSync} call the function directly: no span object, no context switch.
 *
 * Span attributes are names from the config (source, vendor) and schema (field), never a
 * URL, argument value or credential; a failure's message goes through the caller's redactor.
 *
 * @module
 */
import { type Attributes, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";

function tracingEnabled(): boolean {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false; // no --allow-env: no tracing either
  }
}

const tracer: Tracer | undefined = tracingEnabled() ? trace.getTracer("relay") : undefined;

/** True when spans are recorded (`OTEL_DENO=true`). */
export const tracing = tracer !== undefined;

type Describe = (err: unknown) => string;

const describeDefault: Describe = (err) => (err instanceof Error ? err.name : "error");

/**
 * Runs `fn` in a span named `name`. A rejection marks the span as an error with
 * `describe(err)` as its message (the error name by default, which holds no secret).
 */
export function traced<T>(
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  describe: Describe = describeDefault,
): Promise<T> {
  if (!tracer) return fn();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describe(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Adds attributes to the active span; nothing when tracing is off. */
export function annotate(attributes: Attributes): void {
  if (tracer) trace.getActiveSpan()?.setAttributes(attributes);
}

/** {@link traced} for synchronous work. */
export function tracedSync<T>(
  name: string,
  attributes: Attributes,
  fn: () => T,
  describe: Describe = describeDefault,
): T {
  if (!tracer) return fn();
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describe(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}
