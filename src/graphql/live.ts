// Journal subscriptions, delivered. Every one of them (teamEvents, taskEvents,
// inboxEvents, topicEvents, contextEvents) is a JournalStream whose rows are executed
// against the subscription's selection and sent to its client.
//
// Over SSE (and wherever no socket was offered), the stream is handed to the GraphQL
// engine like any AsyncIterable. Over graphql-ws, the engine's path costs, for every
// event and every subscriber: an execution of the selection, a stack of async iterators
// (a few promises each), a JSON.stringify and a write system call. With a thousand
// subscribers on one team that is a thousand times the same work per commit, and it
// saturated the server at a few commits per second. So graphql-ws subscriptions take a
// shorter path:
//   - the stream pushes each row synchronously from the tailer's batch (no promise per
//     row when the subscriber is caught up);
//   - subscribers with the same selection share one execution and one serialization per
//     row (SharedSelection); per subscriber there is only the `{"id":…}` envelope;
//   - a socket's events of one tick leave in one write system call (sendCorked), not
//     one write per event.
// graphql-ws still runs the protocol: the stream, returned to it as usual, yields nothing
// while it pushes, and its end (complete, or error such as CONFLICT) goes out after the
// rows it pushed (both go through ws.send, in order). Results with errors are never
// sent from here: that row and the rest go back to the engine's path, which masks errors.
import type { Socket } from "node:net";
import { execute, getOperationAST, Kind, type DocumentNode, type ExecutionResult, type GraphQLSchema, type SelectionSetNode } from "graphql";
import type { WebSocket } from "ws";
import { JournalStream } from "../modules/journal/journal-stream.js";
import { JOURNAL_ROW_VIEWER_FREE, type ViewerFreeFields } from "../modules/journal/journal.schema.js";
import type { JournalRow } from "../modules/journal/journal.service.js";
import { UnauthenticatedError } from "../errors.js";
import type { Context } from "./context.js";

export const TOKEN_REVOKED = "the token this subscription was opened with has been revoked; subscribe again with a valid token";

/** A graphql-ws subscription, offered by the transport for direct delivery. */
export interface SocketSubscription {
  /** graphql-ws's id of the subscription. */
  id: string;
  socket: WebSocket;
  /** The TCP socket under it: corked while a tick's messages are sent. */
  tcp: Socket;
  schema: GraphQLSchema;
  document: DocumentNode;
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * Bytes a socket may hold unsent (the client is not reading) before its journal
 * subscriptions are cut off with CONFLICT and a cursor to resume from. About the
 * journal stream's MAX_BACKLOG events of a few hundred bytes.
 */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

const offered = new WeakMap<object, SocketSubscription>();
const stats = { direct: 0, handedBack: 0, executions: 0 };

/** Subscriptions live on the graphql-ws path now, rows handed back to the engine since start, and the executions of shared selections since start. */
export function liveStats(): Readonly<typeof stats> {
  return { ...stats };
}

/** Called by the graphql-ws wiring for each subscription, with its context. */
export function offerSocket(contextValue: object, subscription: SocketSubscription): void {
  offered.set(contextValue, subscription);
}

/**
 * A journal subscription's events. `onEnd` is called once when it ends for any reason
 * (completed, failed, or the client went away). Stopping propagates to the source at
 * once, even while it waits for its next event.
 */
export function liveEvents(ctx: Context, source: AsyncIterable<JournalRow>, onEnd: () => void): AsyncIterable<JournalRow> {
  if (!(source instanceof JournalStream)) return untilEnd(source, onEnd);
  source.onEnd(onEnd);
  // A stream lives only as long as the token it was opened with.
  if (ctx.viewer) {
    const stopWatching = ctx.services.agents.whenRevoked(ctx.viewer.tokenId, () => source.cutOff(new UnauthenticatedError(TOKEN_REVOKED)));
    source.onEnd(stopWatching);
  }
  const subscription = offered.get(ctx);
  if (subscription) {
    offered.delete(ctx);
    pushToSocket(source, ctx, subscription);
  }
  return source;
}

function pushToSocket(stream: JournalStream, ctx: Context, subscription: SocketSubscription): void {
  const { socket, tcp } = subscription;
  const shared = SharedSelection.join(subscription, ctx);
  const envelope = Buffer.from(`{"id":${JSON.stringify(subscription.id)},"type":"next","payload":`);
  const send = (payload: Buffer) => (isBehind(socket) ? stream.fellBehind() : sendCorked(socket, tcp, Buffer.concat([envelope, payload, CLOSING_BRACE])));
  const handBack = (row: JournalRow) => {
    stats.handedBack++;
    stream.pull(row);
  };
  stats.direct++;
  stream.onEnd(() => {
    stats.direct--;
    shared.leave();
  });
  stream.pushTo((row) => {
    const payload = shared.payload(row, ctx);
    if (payload instanceof Promise) {
      return payload.then((json) => {
        // Ended while the result was computed: nothing may follow its end.
        if (!stream.isEnded) return json === FAILED ? handBack(row) : send(json);
      });
    }
    return payload === FAILED ? handBack(row) : send(payload);
  });
}

// ---- shared execution -----------------------------------------------------------

const FAILED = Symbol("errors: take the engine's path");
/** A result's JSON (UTF-8), or FAILED. */
type Payload = Buffer | typeof FAILED;

/**
 * Subscriptions with the same operation and variables, and the same viewer unless the
 * selection reads the same for every viewer (JOURNAL_ROW_VIEWER_FREE: the row and its
 * actor): the result for a row is the same for all of them, so it is computed once. The tailer hands the same row objects to every
 * subscriber, so results are remembered per row object, for as long as the row lives.
 */
class SharedSelection {
  private static readonly groups = new Map<string, SharedSelection>();
  private users = 0;
  private readonly results = new WeakMap<JournalRow, Payload | Promise<Payload>>();

  static join(subscription: SocketSubscription, ctx: Context): SharedSelection {
    const { schema, document, query, operationName, variables } = subscription;
    const viewer = viewerFree(document, operationName) ? "" : (ctx.viewer?.id ?? "-");
    const key = `${viewer}\n${operationName ?? ""}\n${JSON.stringify(variables ?? null)}\n${query}`;
    let group = SharedSelection.groups.get(key);
    if (!group) SharedSelection.groups.set(key, (group = new SharedSelection(key, schema, document, operationName, variables)));
    group.users++;
    return group;
  }

  private constructor(
    private readonly key: string,
    private readonly schema: GraphQLSchema,
    private readonly document: DocumentNode,
    private readonly operationName: string | null | undefined,
    private readonly variables: Record<string, unknown> | null | undefined,
  ) {}

  leave(): void {
    if (--this.users === 0) SharedSelection.groups.delete(this.key);
  }

  /** The JSON of the result for `row` (the `payload` of a next message), or FAILED. */
  payload(row: JournalRow, ctx: Context): Payload | Promise<Payload> {
    let payload = this.results.get(row);
    if (payload === undefined) this.results.set(row, (payload = this.run(row, ctx)));
    return payload;
  }

  private run(row: JournalRow, ctx: Context): Payload | Promise<Payload> {
    stats.executions++;
    let result;
    try {
      result = execute({ schema: this.schema, document: this.document, rootValue: row, contextValue: ctx, variableValues: this.variables, operationName: this.operationName });
    } catch {
      return FAILED;
    }
    return result instanceof Promise ? result.then(serialize, () => FAILED) : serialize(result);
  }
}

const serialize = (result: ExecutionResult): Payload => (result.errors ? FAILED : Buffer.from(JSON.stringify(result)));

const viewerFreeCache = new WeakMap<DocumentNode, Map<string, boolean>>();

/** True when the operation's root field selects only what reads the same for every viewer. */
function viewerFree(document: DocumentNode, operationName: string | null | undefined): boolean {
  let byName = viewerFreeCache.get(document);
  if (!byName) viewerFreeCache.set(document, (byName = new Map()));
  const name = operationName ?? "";
  let answer = byName.get(name);
  if (answer === undefined) {
    const operation = getOperationAST(document, operationName);
    answer = operation ? onlyViewerFree(document, operation.selectionSet, null) : false;
    byName.set(name, answer);
  }
  return answer;
}

/** `fields` null: the operation's root, whose one field is the row. */
function onlyViewerFree(document: DocumentNode, set: SelectionSetNode, fields: ViewerFreeFields | null): boolean {
  return set.selections.every((selection) => {
    switch (selection.kind) {
      case Kind.FIELD: {
        if (fields === null) return selection.selectionSet ? onlyViewerFree(document, selection.selectionSet, JOURNAL_ROW_VIEWER_FREE) : false;
        const name = selection.name.value;
        if (!selection.selectionSet) return name === "__typename" || fields.scalars.has(name);
        const relation = fields.relations.get(name);
        return relation !== undefined && onlyViewerFree(document, selection.selectionSet, relation);
      }
      case Kind.INLINE_FRAGMENT:
        return onlyViewerFree(document, selection.selectionSet, fields);
      case Kind.FRAGMENT_SPREAD: {
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
        return fragment?.kind === Kind.FRAGMENT_DEFINITION ? onlyViewerFree(document, fragment.selectionSet, fields) : false;
      }
      default:
        return false;
    }
  });
}

// ---- corked writes ---------------------------------------------------------------

const OPEN = 1;
const TEXT = { binary: false };
const CLOSING_BRACE = Buffer.from("}");
const corked: Socket[] = [];

/**
 * Sends `message` (UTF-8 JSON, as a text frame) through ws. A socket's messages of one
 * tick leave in one write system call (a write per message was the largest single cost
 * of fan-out, measured): the TCP socket under ws is corked at the first message of the
 * tick and uncorked at its end. Everything goes through ws.send, so order holds with what
 * graphql-ws sends itself: a subscription's complete or error follows the events pushed
 * before it. (Frames built by hand, one buffer a socket, took about a sixth less server
 * CPU per delivery in the fan-out benchmark, but relied on ws compressing and queueing
 * nothing.)
 */
function sendCorked(socket: WebSocket, tcp: Socket, message: Buffer): void {
  // Closing: nothing may follow the close frame.
  if (socket.readyState !== OPEN) return;
  if (tcp.writableCorked === 0) {
    tcp.cork();
    if (corked.push(tcp) === 1) process.nextTick(uncorkAll);
  }
  socket.send(message, TEXT);
}

function uncorkAll(): void {
  for (const tcp of corked.splice(0)) tcp.uncork();
}

/** The client is not reading: more than MAX_UNSENT_BYTES wait to be sent. */
const isBehind = (socket: WebSocket): boolean => socket.bufferedAmount > MAX_UNSENT_BYTES;

// ---- any other source ------------------------------------------------------------

function untilEnd<T>(source: AsyncIterable<T>, onEnd: () => void): AsyncIterable<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (!ended) {
      ended = true;
      onEnd();
    }
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () =>
      iterator.next().then(
        (result) => {
          if (result.done) end();
          return result;
        },
        (error: unknown) => {
          end();
          throw error;
        },
      ),
    return: async () => {
      end();
      await iterator.return?.();
      return { value: undefined, done: true };
    },
  } as AsyncIterableIterator<T>;
}
