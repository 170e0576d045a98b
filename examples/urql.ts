/**
 * urql with the resuming graphql-ws client: `subscriptionExchange` forwards subscriptions to
 * it, `fetchExchange` sends queries over HTTP. It prints the configured sources, then one
 * JSON line per DRP event; a dropped socket or a relay restart costs no event and repeats
 * none.
 *
 *     deno run --allow-net --allow-env examples/urql.ts ws://localhost:8080/graphql
 *
 * @module
 */
import { Client, fetchExchange, gql, subscriptionExchange } from "@urql/core";
import { pipe, subscribe } from "wonka";
import { createResumingClient, CursorExpiredError } from "../client/mod.ts";
import { emit, parseArgs } from "./args.ts";

const args = parseArgs(Deno.args);
const wsClient = createResumingClient({
  url: args.wsUrl,
  ...(args.apiKey ? { connectionParams: { apiKey: args.apiKey } } : {}),
});
const client = new Client({
  url: args.httpUrl,
  ...(args.apiKey ? { fetchOptions: { headers: { authorization: `Bearer ${args.apiKey}` } } } : {}),
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({
          // urql's result type differs from graphql-ws's only in optional-field spelling.
          unsubscribe: wsClient.subscribe(
            { ...request, query: request.query ?? "" },
            sink as Parameters<typeof wsClient.subscribe>[1],
          ),
        }),
      }),
    }),
  ],
});

const sources = await client.query<{ sources: { name: string }[] }>(
  gql`query Sources { sources { name } }`,
  {},
).toPromise();
emit({ sources: sources.data?.sources.map((s) => s.name) });

const FOLLOW = gql`
  subscription Follow($type: String, $after: ID) {
    drpEvents(type: $type, after: $after) { id type action key time }
  }
`;
type Row = { drpEvents: { id: string; type: string; action: string; key: string } };

let seen = 0;
const { unsubscribe } = pipe(
  client.subscription<Row>(FOLLOW, { type: args.type }),
  subscribe((result) => {
    if (result.error) {
      // urql wraps transport errors: the resuming client's error is the network error.
      if (result.error.networkError instanceof CursorExpiredError) {
        // The relay cannot resume without a gap: refetch state here, then subscribe afresh.
        emit({ expired: result.error.networkError.message });
        return stop(3);
      }
      emit({ error: result.error.message });
      return stop(1);
    }
    if (!result.data) return;
    emit({ event: result.data.drpEvents });
    if (args.count > 0 && ++seen >= args.count) stop(0);
  }),
);

function stop(code: number): void {
  unsubscribe();
  wsClient.dispose();
  Deno.exit(code);
}
