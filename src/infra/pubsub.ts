// The pub/sub that carries "the journal advanced to N" between the code that commits
// and the tailers that read. In process by default; with REDIS_URL, through Redis so
// that every instance hears every commit. Only the journal module publishes, and an
// announcement only says "look now": a lost one costs latency, never data (tailers
// also poll the journal every JOURNAL_POLL_MS).
import { createPubSub, type PubSub } from "@graphql-yoga/subscription";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

export type Announcements = {
  "journal:advanced": [cursor: number];
};

export type AnnouncementBus = PubSub<Announcements> & { close(): Promise<void> };

/**
 * Adds `cost` to a counter shared by every instance for the current window of `windowMs`;
 * answers the new count and the milliseconds until the window ends, or null when Redis
 * cannot answer (the caller then counts locally).
 */
export type SharedCounter = (key: string, cost: number, windowMs: number) => Promise<{ count: number; resetMs: number } | null>;

export function createAnnouncementBus(): AnnouncementBus {
  return Object.assign(createPubSub<Announcements>(), { close: async () => {} });
}

/**
 * A bus over Redis. Both connections are ready before it is used (messages published
 * before ioredis reported ready were measured to arrive reordered). While Redis is
 * down, publishing fails fast and is dropped: mutations never wait for Redis.
 */
export async function createRedisAnnouncementBus(url: string, logger: Logger): Promise<AnnouncementBus & { counter: SharedCounter }> {
  // Loaded only with REDIS_URL: about forty modules a single instance never needs.
  const [ioredis, { createRedisEventTarget }] = await Promise.all([import("ioredis"), import("@graphql-yoga/redis-event-target")]);
  const publisher = new ioredis.Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  // SUBSCRIBE and UNSUBSCRIBE issued while Redis is down wait in the offline queue for
  // the reconnection, however long it takes: with ioredis's default (20 retries, about
  // 10 s) they were rejected, unhandled, and the rejection stopped the process (measured:
  // a subscription opened 10 s into an outage killed the server).
  const subscriber = new ioredis.Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  let down = false;
  for (const [name, client] of [["publisher", publisher], ["subscriber", subscriber]] as const) {
    client.on("error", (err: Error) => {
      if (!down) logger.warn({ err: err.message, client: name }, "redis unavailable; journal announcements fall back to polling");
      down = true;
    });
    client.on("ready", () => {
      if (down) logger.info({ client: name }, "redis reconnected");
      down = false;
    });
  }
  // Start even while Redis is down (ioredis keeps reconnecting); wait a little for it.
  const ready = Promise.all([publisher, subscriber].map((c) => c.connect().catch(() => new Promise((r) => c.once("ready", r)))));
  await Promise.race([ready, new Promise((r) => setTimeout(r, 5000).unref())]);
  // The event target does not handle a failed publish; a dropped announcement is fine.
  const guardedPublisher = {
    publish: (channel: string, message: string) => publisher.publish(channel, message).catch(() => 0),
  } as unknown as Redis;
  // Nor does it handle a failed SUBSCRIBE or UNSUBSCRIBE: they can still fail when the
  // connection is closed on shutdown. Announcements are only a hint, so log and go on.
  const quietly = (command: string) => (err: Error) => logger.warn({ err: err.message, command }, "redis command failed");
  const guardedSubscriber = {
    on: (event: string, listener: (...args: unknown[]) => void) => subscriber.on(event, listener),
    subscribe: (...channels: string[]) => subscriber.subscribe(...channels).catch(quietly("subscribe")),
    unsubscribe: (...channels: string[]) => subscriber.unsubscribe(...channels).catch(quietly("unsubscribe")),
  } as unknown as Redis;
  const eventTarget = createRedisEventTarget({ publishClient: guardedPublisher, subscribeClient: guardedSubscriber });
  return Object.assign(createPubSub<Announcements>({ eventTarget }), {
    counter: sharedCounter(publisher),
    close: async () => {
      publisher.disconnect();
      subscriber.disconnect();
    },
  });
}

/** How long a rate-limit count waits for Redis before the instance counts alone. */
const COUNTER_WAIT_MS = 250;

/** Rate-limit counts in Redis, shared by every instance (see SharedCounter). */
function sharedCounter(publisher: Redis): SharedCounter {
  return async (key, cost, windowMs) => {
    const window = Math.floor(Date.now() / windowMs);
    const name = `agent-hq:rl:${key}:${window}`;
    try {
      // A request never waits long for Redis: a command caught by an outage (retried once
      // after the reconnection) is given up on, and the instance counts alone meanwhile.
      const counted = publisher.multi().incrby(name, cost).pexpire(name, windowMs * 2).exec();
      counted.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<null>((resolve) => (timer = setTimeout(resolve, COUNTER_WAIT_MS, null).unref()));
      // Cleared once Redis answers: every request sets one, and most answer within a millisecond.
      const replies = await Promise.race([counted, giveUp]).finally(() => clearTimeout(timer));
      const count = Number(replies?.[0]?.[1]);
      return Number.isFinite(count) ? { count, resetMs: (window + 1) * windowMs - Date.now() } : null;
    } catch {
      return null;
    }
  };
}
