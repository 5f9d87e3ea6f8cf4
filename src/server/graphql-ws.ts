// graphql-ws on the GraphQL path of the HTTP server: a connection needs a valid token in
// its connectionParams, every subscription checks it again (it may have been revoked) and
// runs through Yoga's plugins, and a socket whose token is revoked is closed.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import { GraphQLError, type ExecutionArgs } from "graphql";
import type { OperationResult, SubscribePayload } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { AppError, UnauthenticatedError } from "../errors.js";
import type { Context } from "../graphql/context.js";
import { toGraphQLError } from "../graphql/errors.js";
import { LIMITS } from "../graphql/limits.js";
import { offerSocket } from "../graphql/live.js";
import type { GraphQLServer } from "../graphql/yoga.js";
import { unavailableFrom } from "../infra/db.js";
import { bearerToken } from "../modules/agents/token.js";
import type { Services } from "../services.js";
import { shuttingDown } from "./http-front.js";

export interface GraphqlWsOptions {
  server: Server;
  path: string;
  yoga: GraphQLServer;
  services: Services;
  draining(): boolean;
  onBadToken(): void;
}

export interface GraphqlWs {
  wss: WebSocketServer;
  /** Completes every subscription and closes every socket with 1001. */
  close(): Promise<void>;
}

/** Yoga's enveloped execute/subscribe, handed to graphql-ws through rootValue. */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): OperationResult;
  subscribe(args: ExecutionArgs): OperationResult;
}

/** The part of graphql-ws' connection context used here. */
interface Ctx {
  subscriptions: Record<string, unknown>;
  extra: { socket: WebSocket; request: IncomingMessage };
}

export function attachGraphqlWs(options: GraphqlWsOptions): GraphqlWs {
  // No compression: live.ts writes frames straight to the socket beside ws (see SocketBatch).
  const wss = new WebSocketServer({
    server: options.server,
    path: options.path,
    maxPayload: LIMITS.bodyBytes,
    perMessageDeflate: false,
    // A WebSocket opened during a shutdown would be closed at once.
    verifyClient: (_info, done) => (options.draining() ? done(false, shuttingDown.status, shuttingDown.message) : done(true)),
  });
  const ws = useServer<Record<string, unknown> | undefined>(
    {
      onConnect: (ctx) => acceptConnection(options, ctx),
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: subscriptionStarter(options),
    },
    wss,
  );
  return {
    wss,
    async close() {
      for (const socket of wss.clients) socket.close(1001, "server shutting down");
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A connection is refused (4403) unless a valid token comes in connectionParams. */
async function acceptConnection(options: GraphqlWsOptions, ctx: Ctx & { connectionParams?: Record<string, unknown> }): Promise<boolean> {
  const params = ctx.connectionParams ?? {};
  const token = bearerToken(params.authorization ?? params.Authorization ?? params.token);
  let ok: boolean;
  try {
    ok = token !== null && (await options.services.agents.authenticate(token)) !== null;
  } catch (error) {
    const unavailable = unavailableFrom(error);
    if (!unavailable) throw error;
    // 1013 Try Again Later: graphql-ws clients reconnect by themselves (they give up on 4500).
    ctx.extra.socket.close(1013, unavailable.message);
    return false;
  }
  if (!ok) options.onBadToken();
  return ok;
}

/** graphql-ws' onSubscribe: each subscription parsed, validated and given its context by Yoga's plugins. */
function subscriptionStarter({ yoga, services }: GraphqlWsOptions) {
  const watched = new WeakSet<object>();
  /** Its subscriptions end when the token is revoked (graphql/live.ts); then the socket goes too. */
  const watchRevocation = (ctx: Ctx, tokenId: string) => {
    if (watched.has(ctx)) return;
    watched.add(ctx);
    const stop = services.agents.whenRevoked(tokenId, () => closeWhenIdle(ctx, 4403, "token revoked"));
    ctx.extra.socket.once("close", stop);
  };
  return async (ctx: Ctx & { connectionParams?: Readonly<Record<string, unknown>> }, id: string, payload: SubscribePayload) => {
    const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
      ...ctx,
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      params: payload,
      connectionParams: ctx.connectionParams,
      requestId: randomUUID(),
    });
    let document;
    try {
      document = parse(payload.query);
    } catch (error) {
      return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
    }
    const errors = validate(schema, document);
    if (errors.length > 0) return errors;
    // The token is checked again for every subscription: it may have been revoked.
    let contextValue: Context;
    try {
      contextValue = (await contextFactory()) as Context;
    } catch (error) {
      return [contextRefusal(error)];
    }
    if (contextValue.viewer) watchRevocation(ctx, contextValue.viewer.tokenId);
    // Journal subscriptions write their events straight to this socket (graphql/live.ts).
    offerSocket(contextValue, { id, socket: ctx.extra.socket, tcp: ctx.extra.request.socket, schema, document, query: payload.query, operationName: payload.operationName, variables: payload.variables });
    return { schema, operationName: payload.operationName, document, variableValues: payload.variables, contextValue, rootValue: { execute, subscribe } as EnvelopedRoot };
  };
}

/** Why a subscription's context could not be made: the refusal Yoga's context factory threw, coded. */
function contextRefusal(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  const known = error instanceof AppError ? error : unavailableFrom(error);
  return toGraphQLError(known ?? new UnauthenticatedError("the bearer token is unknown or revoked; register again or use a valid token"));
}

/**
 * Closes a graphql-ws socket once its subscriptions have sent their end (an error each,
 * when a token is revoked), so the client reads why before the close; at most 2 s later.
 */
function closeWhenIdle(ctx: Ctx, code: number, reason: string): void {
  const socket = ctx.extra.socket;
  const deadline = Date.now() + 2000;
  const check = () => {
    if (socket.readyState !== 1) return;
    if (Object.keys(ctx.subscriptions).length === 0 || Date.now() > deadline) socket.close(code, reason);
    else setTimeout(check, 10);
  };
  setImmediate(check);
}
