/**
 * Runs graphql-js in production mode unless NODE_ENV says otherwise. Entry points import
 * this module before anything that loads graphql-js, which picks its `instanceOf` when it
 * loads: outside production every failed `instanceof` also compares class names to warn
 * about a second copy of graphql-js, about 8 µs of CPU per executed event (bench, distinct
 * case). graphql-yoga changes nothing for "production" (it masks errors the same way).
 *
 * @module
 */
import process from "node:process";

try {
  process.env.NODE_ENV ??= "production";
} catch {
  // Without env permission graphql-js stays in its default mode; nothing else changes.
}
