// A graceful shutdown, in the order that loses no request: stop accepting, end every
// stream, let the requests in flight finish (bounded), then close sockets, background
// work and the database.
import type { Logger } from "pino";
import type { Database } from "../infra/db.js";
import type { AnnouncementBus } from "../infra/pubsub.js";
import type { Services } from "../services.js";
import type { GraphqlWs } from "./graphql-ws.js";
import type { HttpFront } from "./http-front.js";

export interface Running {
  front: HttpFront;
  ws: GraphqlWs;
  services: Services;
  /** Stops the periodic work (lease sweeps, key purges). */
  stopBackground(): void;
  disposeYoga(): Promise<void>;
  bus: AnnouncementBus;
  db: Database;
  logger: Logger;
}

export async function shutDown(running: Running, timeoutMs: number): Promise<void> {
  const { front, services } = running;
  // Connections stay open, and the server listening, until the requests in flight are
  // answered: closing a kept-alive connection (server.close() closes the idle ones)
  // resets any request a client is sending on it at that moment. Meanwhile every new
  // request is answered 503 UNAVAILABLE, and every answer not yet begun closes its
  // connection after it.
  front.drain();
  running.stopBackground();
  // Completing the streams ends SSE responses, graphql-ws subscriptions and waiting asks.
  services.tailer.close();
  await untilAnswered(front, Date.now() + timeoutMs);
  front.server.close();
  for (const res of front.inFlight) res.destroy();
  await running.ws.close();
  front.server.closeAllConnections();
  await services.presence.stop().catch((err: unknown) => running.logger.error({ err }, "presence flush failed"));
  await running.disposeYoga();
  await running.bus.close();
  await running.db.close();
}

/** Waits until no request is in flight, or the deadline. */
async function untilAnswered(front: HttpFront, deadline: number): Promise<void> {
  for (;;) {
    while (front.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    // One more turn of the event loop reads requests that have already arrived.
    await new Promise((r) => setImmediate(r));
    if (front.inFlight.size === 0 || Date.now() >= deadline) return;
  }
}
