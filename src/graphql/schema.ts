/**
 * Builds the executable schema from `schema/*.graphql` and the resolvers.
 *
 * @module
 */
import type { GraphQLSchema } from "graphql";
import { createSchema } from "graphql-yoga";
import type { RelayContext } from "./context.ts";
import { resolvers } from "./resolvers.ts";

/** The SDL files, in load order (base first; vendors extend it). */
export const SCHEMA_FILES = [
  "events.graphql",
  "drp.graphql",
  "kazoo.graphql",
  "isymphony.graphql",
  "iland.graphql",
  "webinate.graphql",
  "cluster.graphql",
] as const;

/** Reads the SDL shipped next to the code (works locally, in Docker and on Deno Deploy). */
export function loadTypeDefs(): string {
  return SCHEMA_FILES.map((file) =>
    Deno.readTextFileSync(new URL(`../../schema/${file}`, import.meta.url))
  ).join("\n");
}

/** The executable schema. */
export function buildRelaySchema(): GraphQLSchema {
  return createSchema<RelayContext>({ typeDefs: loadTypeDefs(), resolvers });
}
