/**
 * Errors at the GraphQL edge: relay errors become GraphQLErrors with `extensions.code`;
 * anything else is masked so internals never reach a client.
 *
 * @module
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { isRelayError } from "../model/errors.ts";

/** A GraphQLError carrying the relay error's code, or a masked internal error. */
export function toGraphQLError(err: unknown): GraphQLError {
  if (err instanceof GraphQLError) {
    if (err.extensions?.code || !err.originalError) return err;
    return toGraphQLError(err.originalError);
  }
  if (isRelayError(err)) {
    return new GraphQLError(err.message, { extensions: { code: err.code } });
  }
  return new GraphQLError("Internal server error", {
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  });
}

/** Formats errors for a graphql-ws `error` message, keeping codes and masking the rest. */
export function formatErrors(errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map((e) => {
    const original = e.originalError;
    if (isRelayError(original)) return toGraphQLError(original).toJSON();
    if (original && !(original instanceof GraphQLError)) {
      // graphql-ws wraps an iterator's throw in a GraphQLError that keeps only the message.
      const cause = (original as { cause?: unknown }).cause;
      return toGraphQLError(cause ?? original).toJSON();
    }
    return e.toJSON();
  });
}

/** Runs `fn`, rethrowing relay errors as coded GraphQLErrors (a promise's rejection too). */
export function coded<T>(fn: () => T): T {
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.catch((err) => {
        throw toGraphQLError(err);
      }) as T;
    }
    return result;
  } catch (err) {
    throw toGraphQLError(err);
  }
}
