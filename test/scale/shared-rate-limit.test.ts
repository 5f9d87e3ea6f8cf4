// Rate limits with REDIS_URL: one budget per agent, shared by every instance, and a
// fallback to each instance's own buckets while Redis does not answer.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/graphql/rate-limit.js";
import { createRedisAnnouncementBus } from "../../src/infra/pubsub.js";
import { redisServerPath, startRedisServer, type RedisServer } from "../helpers/redis-server.js";

const available = redisServerPath() !== null;
if (!available) console.log("[shared-rate-limit] SKIPPED: redis-server (apt-get install -y redis-server) not installed");

describe.skipIf(!available)("rate limits shared through Redis", () => {
  let redis: RedisServer;
  let buses: Awaited<ReturnType<typeof createRedisAnnouncementBus>>[];
  beforeAll(async () => {
    redis = await startRedisServer();
    const logger = pino({ level: "silent" });
    // Two instances' connections.
    buses = [await createRedisAnnouncementBus(redis.url, logger), await createRedisAnnouncementBus(redis.url, logger)];
  });
  afterAll(async () => {
    for (const bus of buses ?? []) await bus.close();
    await redis?.dispose();
  });

  it("counts one agent's calls on two instances against one budget", async () => {
    const [a, b] = buses.map((bus) => new RateLimiter(30, bus.counter));
    const key = `agent:shared-${Date.now()}`;
    // 6 mutations of cost 5 spread over both instances use the whole budget of 30.
    for (let i = 0; i < 6; i++) expect(await (i % 2 ? b! : a!).take(key, 5)).toBe(0);
    const waitA = await a!.take(key, 1);
    const waitB = await b!.take(key, 1);
    expect(waitA).toBeGreaterThan(0);
    expect(waitB).toBeGreaterThan(0);
    expect(waitA).toBeLessThanOrEqual(60);
    // Another agent has its own budget.
    expect(await b!.take(`${key}-other`, 5)).toBe(0);
  });

  it("falls back to the instance's own buckets while Redis is down", async () => {
    const limiter = new RateLimiter(10, buses[0]!.counter);
    await redis.stop();
    const key = `agent:fallback-${Date.now()}`;
    expect(await limiter.take(key, 10)).toBe(0);
    expect(await limiter.take(key, 1)).toBeGreaterThan(0);
    await redis.restart();
  });
});
