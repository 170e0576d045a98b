/**
 * Operation limits as GraphQL validation rules (depth, aliases, introspection), and the
 * per-key token bucket for new subscriptions. Both transports (graphql-ws and yoga) use
 * the same rules.
 *
 * @module
 */
import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type SelectionSetNode,
  specifiedRules,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import type { Clock } from "../platform/clock.ts";

/** Limits applied to every operation. */
export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  introspection: boolean;
}

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "LIMIT_EXCEEDED" } });
}

/** Rejects operations nested deeper than `max` fields (fragments followed, cycles cut). */
export function depthLimitRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode, seen: Set<string>): number => {
      let deepest = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          const inner = sel.selectionSet ? depthOf(sel.selectionSet, seen) : 0;
          deepest = Math.max(deepest, 1 + inner);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(sel.selectionSet, seen));
        } else {
          const name = sel.name.value;
          const frag = fragments.get(name);
          if (!frag || seen.has(name)) continue;
          deepest = Math.max(deepest, depthOf(frag.selectionSet, new Set([...seen, name])));
        }
        if (deepest > max) return deepest;
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) {
          context.reportError(
            limitError(`Operation is nested ${depth} levels deep; the limit is ${max}`),
          );
        }
      },
    };
  };
}

/** Rejects documents with more than `max` aliased fields. */
export function aliasLimitRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    let reported = false;
    return {
      Field(node) {
        if (!node.alias) return;
        aliases++;
        if (aliases > max && !reported) {
          reported = true;
          context.reportError(limitError(`Operation uses more than ${max} aliases`));
        }
      },
    };
  };
}

/** The full validation rule list for `limits`. */
export function validationRules(limits: OperationLimits): ValidationRule[] {
  return [
    ...specifiedRules,
    depthLimitRule(limits.maxDepth),
    aliasLimitRule(limits.maxAliases),
    ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
}

/** A token bucket per key: `perMinute` tokens, refilled continuously. */
export class RateLimiter {
  readonly #perMinute: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number, clock: Clock) {
    this.#perMinute = perMinute;
    this.#clock = clock;
  }

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#perMinute, at: now };
    bucket.tokens = Math.min(
      this.#perMinute,
      bucket.tokens + ((now - bucket.at) / 60_000) * this.#perMinute,
    );
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 10_000) this.#prune(now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #prune(now: number): void {
    // Full buckets carry no state worth keeping.
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 60_000) * this.#perMinute >= this.#perMinute) {
        this.#buckets.delete(key);
      }
    }
  }
}
