/**
 * Apollo Client with the resuming graphql-ws client: subscriptions go over WebSocket through
 * `GraphQLWsLink`, queries over HTTP, chosen by a `split` link. It prints the configured
 * sources, then one JSON line per DRP event; a dropped socket or a relay restart costs no
 * event and repeats none.
 *
 *     deno run --allow-net --allow-env examples/apollo.ts ws://localhost:8080/graphql
 *
 * In Node or a bundler, import the same names from `@apollo/client` (and its
 * `link/subscriptions` entry). Here the CommonJS entry points are used because Deno 2.5, the
 * Deno Deploy runtime, cannot read the named exports of `graphql-tag`'s CommonJS build,
 * which the ESM `@apollo/client` re-exports.
 *
 * @module
 */
import apollo from "@apollo/client/main.cjs";
import subscriptions from "@apollo/client/link/subscriptions/subscriptions.cjs";
import { createResumingClient, CursorExpiredError } from "../client/mod.ts";
import { emit, parseArgs } from "./args.ts";

const { ApolloClient, HttpLink, InMemoryCache, gql, split } = apollo;
const { GraphQLWsLink } = subscriptions;
const args = parseArgs(Deno.args);
const auth = args.apiKey ? { authorization: `Bearer ${args.apiKey}` } : undefined;

const wsClient = createResumingClient({
  url: args.wsUrl,
  ...(args.apiKey ? { connectionParams: { apiKey: args.apiKey } } : {}),
});
const link = split(
  ({ query }) =>
    query.definitions.some((d) =>
      d.kind === "OperationDefinition" && d.operation === "subscription"
    ),
  new GraphQLWsLink(wsClient),
  new HttpLink({ uri: args.httpUrl, ...(auth ? { headers: auth } : {}) }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const sources = await client.query<{ sources: { name: string; vendor: string }[] }>({
  query: gql`query Sources { sources { name vendor } }`,
});
emit({ sources: sources.data?.sources.map((s) => s.name) });

const MACHINES = gql`
  subscription Follow($type: String, $after: ID) {
    drpEvents(type: $type, after: $after) { id type action key time }
  }
`;
type Row = { drpEvents: { id: string; type: string; action: string; key: string } };

let seen = 0;
const subscription = client.subscribe<Row>({ query: MACHINES, variables: { type: args.type } })
  .subscribe({
    next: ({ data, error }) => {
      if (error) return fail(error);
      if (!data) return;
      emit({ event: data.drpEvents });
      if (args.count > 0 && ++seen >= args.count) stop(0);
    },
    error: fail,
  });

function fail(error: unknown): void {
  if (error instanceof CursorExpiredError) {
    // The relay cannot resume without a gap: refetch state here, then subscribe afresh.
    emit({ expired: error.message });
    return stop(3);
  }
  emit({ error: String(error) });
  stop(1);
}

function stop(code: number): void {
  subscription.unsubscribe();
  wsClient.dispose();
  Deno.exit(code);
}
