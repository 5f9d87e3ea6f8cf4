// The console's only way to the server: the public GraphQL API with the viewer's token.
// Queries and mutations go over fetch (urql); subscriptions over graphql-ws.
import { Client, CombinedError, fetchExchange, mapExchange, stringifyDocument, type AnyVariables, type TypedDocumentNode } from "urql";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { Cell } from "./store";

/** Whether the live connection is up: shown in the header. */
export type LinkState = "connecting" | "live" | "reconnecting";

export interface Api {
  urql: Client;
  ws: WsClient;
  link: Cell<LinkState>;
  graphqlPath: string;
  dispose(): void;
}

/** The GraphQL path the server wrote into index.html (GRAPHQL_PATH may move it). */
export function graphqlPath(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="agent-hq-graphql"]')?.content || "/graphql";
}

/** graphql-ws close codes after which trying again cannot help: the token is refused. */
const REFUSED = new Set([4401, 4403]);

export function createApi(token: string, onRefused: (reason: string) => void): Api {
  const path = graphqlPath();
  const link = new Cell<LinkState>("connecting");
  const ws = createWsClient({
    url: new URL(path, location.href).href.replace(/^http/, "ws"),
    connectionParams: { authorization: `Bearer ${token}` },
    // No retries inside graphql-ws: it would resubscribe with the first `after` and replay
    // from there. streamEvents retries itself, from the last cursor it has shown.
    retryAttempts: 0,
    keepAlive: 15_000,
    on: {
      connected: () => link.set("live"),
      closed: (event) => {
        const close = event as CloseEvent;
        if (REFUSED.has(close.code)) onRefused(close.reason || "the token was refused");
      },
    },
  });
  const urql = new Client({
    url: path,
    requestPolicy: "network-only",
    // POST: answers are never taken from the browser's HTTP cache, and URLs stay short.
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
    exchanges: [
      mapExchange({
        onError(error) {
          const refused = error.graphQLErrors.find((e) => e.extensions?.code === "UNAUTHENTICATED");
          if (refused) onRefused(refused.message);
        },
      }),
      fetchExchange,
    ],
  });
  return { urql, ws, link, graphqlPath: path, dispose: () => void ws.dispose() };
}

/** What a person reads from a failed operation: the server's own message. */
export function errorText(error: unknown): string {
  if (error instanceof CombinedError) {
    if (error.graphQLErrors.length) return error.graphQLErrors.map((e) => e.message).join("; ");
    return `cannot reach the server (${error.networkError?.message ?? "network error"})`;
  }
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join("; ");
  return error instanceof Error ? error.message : String(error);
}

/** Runs a query or mutation; throws the server's message on failure. */
export async function run<D, V extends AnyVariables>(api: Api, document: TypedDocumentNode<D, V>, variables: V, mutation = false): Promise<D> {
  const result = mutation ? await api.urql.mutation(document, variables).toPromise() : await api.urql.query(document, variables).toPromise();
  if (result.error) throw new Error(errorText(result.error));
  if (!result.data) throw new Error("the server answered with no data");
  return result.data;
}

export interface StreamHandlers<E> {
  onEvent(event: E): void;
  /** The stream cannot go on (refused, not found, removed from the team). */
  onFailed(message: string): void;
}

/**
 * Subscribes to a journal subscription (teamEvents, taskEvents, inboxEvents, …) after a
 * cursor, and keeps it going: when the connection drops it subscribes again after the
 * last cursor it delivered, so events arrive with no gap and no duplicate. Returns stop.
 */
export function streamEvents<D, V extends { after?: number | null }, E extends { cursor: number }>(
  api: Api,
  document: TypedDocumentNode<D, V>,
  variables: Omit<V, "after">,
  after: number,
  pick: (data: D) => E,
  handlers: StreamHandlers<E>,
): () => void {
  const query = stringifyDocument(document);
  let last = after;
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unsubscribe: (() => void) | undefined;
  const fail = (message: string) => {
    stopped = true;
    handlers.onFailed(message);
  };
  const start = () => {
    unsubscribe = api.ws.subscribe<D>(
      { query, variables: { ...variables, after: last } as Record<string, unknown> },
      {
        next: (result) => {
          if (stopped) return;
          if (result.errors?.length) return fail(result.errors.map((e) => e.message).join("; "));
          if (!result.data) return;
          const event = pick(result.data as D);
          if (event.cursor <= last) return;
          last = event.cursor;
          attempt = 0;
          handlers.onEvent(event);
        },
        error: (error) => {
          if (stopped) return;
          if (Array.isArray(error)) return fail(errorText(error));
          const code = (error as CloseEvent | undefined)?.code;
          if (code !== undefined && (REFUSED.has(code) || code === 4400 || code === 4500)) return fail((error as CloseEvent).reason || `closed (${code})`);
          api.link.set("reconnecting");
          const wait = Math.min(250 * 2 ** attempt++, 8_000) * (0.75 + Math.random() / 2);
          timer = setTimeout(start, wait);
        },
        // The server ended it: the viewer left the team or lost access.
        complete: () => {
          if (!stopped) fail("the server ended this stream (were you removed from the team?)");
        },
      },
    );
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe?.();
  };
}
