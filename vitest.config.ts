import { defineConfig } from "vitest/config";

export default defineConfig({
  // graphql ships CommonJS and ESM builds; Pothos (loaded by Node) gets the CommonJS one,
  // so source files must too, or schema objects come from "another realm".
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files run two at a time, each with its own server and database.
    maxWorkers: 2,
    pool: "forks",
  },
});
