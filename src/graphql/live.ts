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
//   - a socket's events of one batch leave in one write system call (SocketBatch), not
//     one write per event.
// graphql-ws still runs the protocol: the stream, returned to it as usual, yields nothing
// while it pushes, and its end (complete, or error such as CONFLICT) goes out after the
// rows it pushed (a stream's end flushes its socket first). Results with errors are never
// sent from here: that row and the rest go back to the engine's path, which masks errors.
import type { Socket } from "node:net";
import { execute, getOperationAST, Kind, type DocumentNode, type ExecutionResult, type GraphQLSchema, type SelectionSetNode } from "graphql";
import type { WebSocket } from "ws";
import { JournalStream } from "../modules/journal/journal-stream.js";
import { ROW_ONLY_FIELDS } from "../modules/journal/journal.schema.js";
import type { JournalRow } from "../modules/journal/journal.service.js";
import { UnauthenticatedError } from "../errors.js";
import type { Context } from "./context.js";

export const TOKEN_REVOKED = "the token this subscription was opened with has been revoked; subscribe again with a valid token";

/** A graphql-ws subscription, offered by the transport for direct delivery. */
export interface SocketSubscription {
  /** graphql-ws's id of the subscription. */
  id: string;
  socket: WebSocket;
  /** The TCP socket under it: a batch of frames is written to it in one write. */
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
const stats = { direct: 0, handedBack: 0 };

/** Subscriptions live on the graphql-ws path now, and rows handed back to the engine since start. */
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
  const batch = SocketBatch.of(subscription.socket, subscription.tcp);
  const shared = SharedSelection.join(subscription, ctx);
  const envelope = Buffer.from(`{"id":${JSON.stringify(subscription.id)},"type":"next","payload":`);
  const send = (payload: Buffer) => (batch.behind ? stream.fellBehind() : batch.add(envelope, payload));
  const handBack = (row: JournalRow) => {
    stats.handedBack++;
    // What was pushed goes out before what the engine will send.
    batch.flush();
    stream.pull(row);
  };
  // Before graphql-ws sends the end (complete or error), what was pushed goes out.
  stats.direct++;
  stream.onEnd(() => {
    stats.direct--;
    batch.flush();
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
 * selection reads only the row (ROW_ONLY_FIELDS): the result for a row is the same for
 * all of them, so it is computed once. The tailer hands the same row objects to every
 * subscriber, so results are remembered per row object, for as long as the row lives.
 */
class SharedSelection {
  private static readonly groups = new Map<string, SharedSelection>();
  private users = 0;
  private readonly results = new WeakMap<JournalRow, Payload | Promise<Payload>>();

  static join(subscription: SocketSubscription, ctx: Context): SharedSelection {
    const { schema, document, query, operationName, variables } = subscription;
    const viewer = rowOnly(document, operationName) ? "" : (ctx.viewer?.id ?? "-");
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

const rowOnlyCache = new WeakMap<DocumentNode, Map<string, boolean>>();

/** True when the operation's root field selects only fields of the row itself. */
function rowOnly(document: DocumentNode, operationName: string | null | undefined): boolean {
  let byName = rowOnlyCache.get(document);
  if (!byName) rowOnlyCache.set(document, (byName = new Map()));
  const name = operationName ?? "";
  let answer = byName.get(name);
  if (answer === undefined) {
    const operation = getOperationAST(document, operationName);
    answer = operation ? onlyRowFields(document, operation.selectionSet, true) : false;
    byName.set(name, answer);
  }
  return answer;
}

function onlyRowFields(document: DocumentNode, set: SelectionSetNode, root: boolean): boolean {
  return set.selections.every((selection) => {
    switch (selection.kind) {
      case Kind.FIELD:
        if (root) return selection.selectionSet ? onlyRowFields(document, selection.selectionSet, false) : false;
        return !selection.selectionSet && (selection.name.value === "__typename" || ROW_ONLY_FIELDS.has(selection.name.value));
      case Kind.INLINE_FRAGMENT:
        return onlyRowFields(document, selection.selectionSet, root);
      case Kind.FRAGMENT_SPREAD: {
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
        return fragment?.kind === Kind.FRAGMENT_DEFINITION ? onlyRowFields(document, fragment.selectionSet, root) : false;
      }
      default:
        return false;
    }
  });
}

// ---- batched writes ---------------------------------------------------------------

const OPEN = 1;
const CLOSING_BRACE = Buffer.from("}");

/**
 * The next messages for one socket during one tick, sent at the end of the tick as one
 * buffer of WebSocket frames in one write (a write a message was the largest single cost
 * of fan-out, measured). Framing them here rather than through ws.send under cork (a
 * copy, a header and two writes a message) makes a socket's flush a sixth cheaper: 7.7–8.1
 * µs instead of 9.4–10.4 for 4 messages, most of what remains being the system call.
 * ws writes its own frames straight to the socket too (the server negotiates no
 * compression, so it queues nothing), so the order holds: a stream's end flushes its
 * batch first, and for each subscription its events precede its end. A socket whose
 * client does not read (too many bytes unsent) is `behind`, and its subscriptions are cut
 * off at their next event.
 */
class SocketBatch {
  private static readonly bySocket = new WeakMap<WebSocket, SocketBatch>();
  private static dirty: SocketBatch[] = [];
  /** Envelope and payload of each message, in order. */
  private parts: Buffer[] = [];

  static of(socket: WebSocket, tcp: Socket): SocketBatch {
    let batch = SocketBatch.bySocket.get(socket);
    if (!batch) SocketBatch.bySocket.set(socket, (batch = new SocketBatch(socket, tcp)));
    return batch;
  }

  private constructor(
    private readonly socket: WebSocket,
    private readonly tcp: Socket,
  ) {}

  /** Queues the message `envelope + payload + "}"`. */
  add(envelope: Buffer, payload: Buffer): void {
    if (this.parts.length === 0 && SocketBatch.dirty.push(this) === 1) process.nextTick(SocketBatch.flushAll);
    this.parts.push(envelope, payload);
  }

  private static flushAll(this: void): void {
    const batches = SocketBatch.dirty;
    SocketBatch.dirty = [];
    for (const batch of batches) batch.flush();
  }

  flush(): void {
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    // Closing: nothing may follow the close frame.
    if (this.socket.readyState !== OPEN) return;
    const frames: Buffer[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const envelope = parts[i]!;
      const payload = parts[i + 1]!;
      frames.push(textFrameHeader(envelope.length + payload.length + 1), envelope, payload, CLOSING_BRACE);
    }
    this.tcp.write(Buffer.concat(frames));
  }

  /** The client is not reading: more than MAX_UNSENT_BYTES wait in the socket. */
  get behind(): boolean {
    return this.tcp.writableLength > MAX_UNSENT_BYTES;
  }
}

/** The header of a final, unmasked text frame of `length` bytes (RFC 6455, 5.2). */
function textFrameHeader(length: number): Buffer {
  if (length < 126) return Buffer.from([0x81, length]);
  if (length < 65_536) return Buffer.from([0x81, 126, length >> 8, length & 0xff]);
  const header = Buffer.from([0x81, 127, 0, 0, 0, 0, 0, 0, 0, 0]);
  header.writeUIntBE(length, 4, 6);
  return header;
}

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
