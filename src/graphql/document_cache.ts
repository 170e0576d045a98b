/**
 * Parsed and validated documents, shared by every operation with the same query text.
 *
 * graphql-ws keeps each operation's execution arguments (and so its document) alive for the
 * life of the subscription. Parsing per socket cost about 7 KB of retained AST (tokens,
 * locations) per connection plus the parse and validation garbage, which V8 keeps as heap
 * it does not hand back: with thousands of clients sending the same document, most of the
 * relay's memory per connection. graphql-js documents are immutable, so one parse serves
 * them all; validation depends only on the schema, the rules and the document, so its
 * result is shared too.
 *
 * @module
 */
import { type DocumentNode, GraphQLError } from "graphql";

/** A query text's outcome: a valid document, or the errors to answer with. */
export type Checked =
  | { readonly ok: true; readonly document: DocumentNode }
  | { readonly ok: false; readonly errors: readonly GraphQLError[] };

/** Options for {@link DocumentCache}. */
export interface DocumentCacheOptions {
  /** Parses a query (throws a GraphQLError on syntax errors). */
  parse: (query: string) => DocumentNode;
  /** Validates a parsed document; empty means valid. */
  validate: (document: DocumentNode) => readonly GraphQLError[];
  /** Distinct query texts kept (least recently used go first). */
  maxEntries?: number;
  /** Longer query texts are checked every time and not kept. */
  maxQueryLength?: number;
}

/** A bounded LRU of checked documents keyed by query text. */
export class DocumentCache {
  readonly #opts: DocumentCacheOptions;
  readonly #entries = new Map<string, Checked>();
  readonly #maxEntries: number;
  readonly #maxQueryLength: number;

  constructor(opts: DocumentCacheOptions) {
    this.#opts = opts;
    this.#maxEntries = opts.maxEntries ?? 500;
    this.#maxQueryLength = opts.maxQueryLength ?? 8192;
  }

  /** Entries held (tests, metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** The checked document for `query`; a syntax error comes back as `ok: false`. */
  check(query: string): Checked {
    const held = this.#entries.get(query);
    if (held) {
      this.#entries.delete(query);
      this.#entries.set(query, held);
      return held;
    }
    const checked = this.#check(query);
    if (query.length <= this.#maxQueryLength) {
      this.#entries.set(query, checked);
      if (this.#entries.size > this.#maxEntries) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
    }
    return checked;
  }

  #check(query: string): Checked {
    let document: DocumentNode;
    try {
      document = this.#opts.parse(query);
    } catch (err) {
      return {
        ok: false,
        errors: [err instanceof GraphQLError ? err : new GraphQLError("Invalid query")],
      };
    }
    const errors = this.#opts.validate(document);
    return errors.length > 0 ? { ok: false, errors } : { ok: true, document };
  }
}
