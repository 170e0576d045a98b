/**
 * The `DateTime` and `JSON` scalars.
 *
 * @module
 */
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from "graphql";

/** ISO-8601 date-times; serialises strings, Dates and epoch milliseconds. */
export const DateTimeScalar: GraphQLScalarType = new GraphQLScalarType({
  name: "DateTime",
  serialize(value) {
    if (typeof value === "string") return value;
    if (typeof value === "number") return new Date(value).toISOString();
    if (value instanceof Date) return value.toISOString();
    throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
  },
  parseValue(value) {
    if (typeof value !== "string" || Number.isNaN(Date.parse(value))) {
      throw new GraphQLError("DateTime must be an ISO-8601 string");
    }
    return new Date(value).toISOString();
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || Number.isNaN(Date.parse(ast.value))) {
      throw new GraphQLError("DateTime must be an ISO-8601 string");
    }
    return new Date(ast.value).toISOString();
  },
});

function literal(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literal(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      return undefined;
  }
}

/** Arbitrary JSON values. */
export const JSONScalar: GraphQLScalarType = new GraphQLScalarType({
  name: "JSON",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => literal(ast, variables),
});
