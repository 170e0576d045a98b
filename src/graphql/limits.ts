/**
 * Operation limits, checked at a cost bounded by the document's size, never by what it
 * expands to: a nesting scan before parsing (graphql-js `parse` recurses once per level, so
 * a deep document would overflow the stack inside it), graphql-js's `maxTokens`, then one
 * memoised pass over the document (each fragment measured once) for depth, expanded field
 * count and aliases, and only then the specification's rules. Both transports (graphql-ws
 * and yoga) use the same {@link OperationChecks}.
 *
 * @module
 */
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  getIntrospectionQuery,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  specifiedRules,
  validate,
  type ValidationRule,
} from "graphql";

/** Limits applied to every operation. */
export interface OperationLimits {
  /** Deepest field nesting (introspection-only operations: see {@link INTROSPECTION_DEPTH}). */
  maxDepth: number;
  /** Most aliased fields, each fragment counted every time it is spread. */
  maxAliases: number;
  /** Most field selections an operation may expand to (fragments counted per spread). */
  maxFields: number;
  /** Most lexical tokens in a document (graphql-js `parse` option). */
  maxTokens: number;
  introspection: boolean;
}

/** The LIMIT_EXCEEDED error every limit reports. */
export function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "LIMIT_EXCEEDED" } });
}

/**
 * Deepest bracket nesting (`{`, `(`, `[`) accepted before parsing. Far above any real
 * operation (depth limit 100 at most, plus argument objects) and far below where the
 * recursive parser and rules would exhaust the stack (thousands of levels).
 */
export function maxNestingFor(limits: Pick<OperationLimits, "maxDepth">): number {
  return Math.max(64, limits.maxDepth * 2 + 16);
}

/**
 * Scans the raw document for bracket nesting deeper than `max`, skipping strings, block
 * strings and comments. Linear, iterative, allocation-free: it runs before `parse`.
 */
export function nestingExceeds(source: string, max: number): boolean {
  let depth = 0;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < n && source.charCodeAt(i) !== 0x0a && source.charCodeAt(i) !== 0x0d) i++;
    } else if (c === 0x22 /* " */) {
      if (source.startsWith('"""', i)) {
        i += 3;
        while (i < n && !source.startsWith('"""', i)) i += source.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < n && source.charCodeAt(i) !== 0x22) {
          const d = source.charCodeAt(i);
          if (d === 0x0a || d === 0x0d) break;
          i += d === 0x5c /* \ */ ? 2 : 1;
        }
      }
    } else if (c === 0x7b || c === 0x28 || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x29 || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** What one operation expands to, fragments included. */
export interface OperationShape {
  depth: number;
  /** Field selections, each fragment counted per spread (saturates above any limit). */
  fields: number;
  aliases: number;
  /** True when every top-level selection is an introspection field (`__schema`, ...). */
  introspectionOnly: boolean;
}

const SATURATE = 1e9;

/**
 * Measures every operation of `document` in one pass: each fragment definition is measured
 * once and reused at every spread, so the cost is linear in the document whatever it
 * expands to. Spread cycles count as nothing here (the spec rule reports them).
 */
export function measureOperations(
  document: DocumentNode,
): Map<OperationDefinitionNode, OperationShape> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  type Measure = { depth: number; fields: number; aliases: number };
  const memo = new Map<string, Measure>();
  const visiting = new Set<string>();
  const ZERO: Measure = { depth: 0, fields: 0, aliases: 0 };

  const fragment = (name: string): Measure => {
    const known = memo.get(name);
    if (known) return known;
    const def = fragments.get(name);
    if (!def || visiting.has(name)) return ZERO;
    visiting.add(name);
    const m = selectionSet(def.selectionSet);
    visiting.delete(name);
    memo.set(name, m);
    return m;
  };
  const selectionSet = (set: SelectionSetNode): Measure => {
    let depth = 0;
    let fields = 0;
    let aliases = 0;
    for (const sel of set.selections) {
      let m: Measure;
      if (sel.kind === Kind.FIELD) {
        const inner = sel.selectionSet ? selectionSet(sel.selectionSet) : ZERO;
        m = {
          depth: 1 + inner.depth,
          fields: 1 + inner.fields,
          aliases: (sel.alias ? 1 : 0) + inner.aliases,
        };
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        m = selectionSet(sel.selectionSet);
      } else {
        m = fragment(sel.name.value);
      }
      depth = Math.max(depth, m.depth);
      fields = Math.min(SATURATE, fields + m.fields);
      aliases = Math.min(SATURATE, aliases + m.aliases);
    }
    return { depth, fields, aliases };
  };
  const topLevelIntrospection = (set: SelectionSetNode, seen: Set<string>): boolean =>
    set.selections.every((sel) => {
      if (sel.kind === Kind.FIELD) return sel.name.value.startsWith("__");
      if (sel.kind === Kind.INLINE_FRAGMENT) return topLevelIntrospection(sel.selectionSet, seen);
      const def = fragments.get(sel.name.value);
      if (!def || seen.has(def.name.value)) return true;
      seen.add(def.name.value);
      return topLevelIntrospection(def.selectionSet, seen);
    });

  const out = new Map<OperationDefinitionNode, OperationShape>();
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const m = selectionSet(def.selectionSet);
    const introspectionOnly = def.operation === "query" &&
      topLevelIntrospection(def.selectionSet, new Set());
    out.set(def, { ...m, introspectionOnly });
  }
  return out;
}

/**
 * Depth of graphql-js's standard introspection query with every option on (what GraphiQL
 * and codegen tools send). Introspection-only operations may nest this deep where
 * introspection is enabled; every other operation keeps `maxDepth`.
 */
export const INTROSPECTION_DEPTH: number = Math.max(
  ...[...measureOperations(parse(standardIntrospectionQuery())).values()].map((s) => s.depth),
);

/** The standard introspection query, every option on. */
export function standardIntrospectionQuery(): string {
  return getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  });
}

/** The limit errors of one measured operation (empty when it is within every limit). */
export function shapeErrors(shape: OperationShape, limits: OperationLimits): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const maxDepth = shape.introspectionOnly && limits.introspection
    ? Math.max(limits.maxDepth, INTROSPECTION_DEPTH)
    : limits.maxDepth;
  if (shape.depth > maxDepth) {
    errors.push(
      limitError(`Operation is nested ${shape.depth} levels deep; the limit is ${maxDepth}`),
    );
  }
  if (shape.fields > limits.maxFields) {
    errors.push(
      limitError(
        `Operation selects ${
          shape.fields >= SATURATE ? "over a billion" : shape.fields
        } fields once fragments are expanded; the limit is ${limits.maxFields}`,
      ),
    );
  }
  if (shape.aliases > limits.maxAliases) {
    errors.push(limitError(`Operation uses more than ${limits.maxAliases} aliases`));
  }
  return errors;
}

/** Parsing and validation with the limits applied, shared by both transports. */
export interface OperationChecks {
  /** Parses a document; throws a GraphQLError (LIMIT_EXCEEDED or a syntax error). */
  parse(source: string): DocumentNode;
  /** Limit errors first (cheap, linear); the spec rules only run on a document within them. */
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  /** True when error messages may describe the schema ("Did you mean ..."). */
  readonly suggestions: boolean;
}

/** Builds the checks for `limits`. */
export function operationChecks(limits: OperationLimits): OperationChecks {
  const maxNesting = maxNestingFor(limits);
  const rules: ValidationRule[] = [
    ...specifiedRules,
    ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const hideSuggestions = !limits.introspection;
  return {
    suggestions: !hideSuggestions,
    parse(source) {
      if (nestingExceeds(source, maxNesting)) {
        throw limitError(`Document is nested more than ${maxNesting} levels deep`);
      }
      try {
        return parse(source, { maxTokens: limits.maxTokens });
      } catch (err) {
        if (err instanceof GraphQLError && /contains more tha[nt] \d+ tokens/.test(err.message)) {
          throw limitError(`Document has more than ${limits.maxTokens} tokens`);
        }
        throw err;
      }
    },
    validate(schema, document) {
      const errors: GraphQLError[] = [];
      for (const shape of measureOperations(document).values()) {
        errors.push(...shapeErrors(shape, limits));
      }
      if (errors.length > 0) return errors;
      return validate(schema, document, rules, { hideSuggestions });
    },
  };
}
