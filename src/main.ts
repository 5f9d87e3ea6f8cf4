// Reads the configuration, opens (and migrates) the database, and serves.
import { pino } from "pino";
import { ConfigError, isLoopback, loadConfig } from "./config.js";
import { openDatabase } from "./infra/db.js";
import { createAnnouncementBus, createRedisAnnouncementBus } from "./infra/pubsub.js";

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}

const logger = pino({ level: config.LOG_LEVEL, base: { service: "agent-hq" } });
// The app's module graph (Yoga, Pothos, the schema: over a thousand files) loads while
// the database is migrated and opened: loading spends much of its time waiting on the
// module loader, time the database work can use (measured on `npm start`).
const [{ createApp }, db] = await Promise.all([import("./app.js"), openDatabase(config.DATABASE_URL)]);
const redis = config.REDIS_URL ? await createRedisAnnouncementBus(config.REDIS_URL, logger) : null;
const app = createApp({ config, db, bus: redis ?? createAnnouncementBus(), sharedCounter: redis?.counter, logger });

app.server.listen(config.PORT, config.HOST, () => {
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "localhost" : config.HOST;
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  logger.info({ database: config.database, url: `http://${host}:${port}${config.GRAPHQL_PATH}` }, `agent-hq ready at http://${host}:${port}${config.GRAPHQL_PATH}`);
  if (!isLoopback(config.HOST) && config.AGENT_HQ_REGISTRATION_KEY === undefined) {
    logger.warn({ host: config.HOST }, `registration is open to anyone who can reach ${config.HOST}:${port} (ALLOW_OPEN_REGISTRATION=true)`);
  }
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    void app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
