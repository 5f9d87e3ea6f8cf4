import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("has defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 4000,
      HOST: "0.0.0.0",
      DATABASE_URL: "file:./data/agent-hq.db",
      LOG_LEVEL: "info",
      GRAPHQL_PATH: "/graphql",
      INTROSPECTION: true,
      database: "sqlite",
    });
    expect(config.AGENT_HQ_REGISTRATION_KEY).toBeUndefined();
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: "" })).toMatchObject({ PORT: 4000, DATABASE_URL: "file:./data/agent-hq.db" });
  });

  it.each(["postgres://u@localhost:5432/hq", "postgresql://u@localhost/hq"])("%s selects PostgreSQL", (url) => {
    const config = loadConfig({ DATABASE_URL: url });
    expect(config.database).toBe("postgres");
    expect(config.DATABASE_URL).toBe(url);
  });

  it("reads numbers and booleans", () => {
    expect(loadConfig({ PORT: "8080", INTROSPECTION: "false" })).toMatchObject({ PORT: 8080, INTROSPECTION: false });
  });

  it("reads the origins whose web pages may call /mcp, and refuses what is not an origin", () => {
    expect(loadConfig({}).MCP_ALLOWED_ORIGINS).toEqual([]);
    expect(loadConfig({ MCP_ALLOWED_ORIGINS: "https://app.example.com, http://localhost:5173" }).MCP_ALLOWED_ORIGINS).toEqual(["https://app.example.com", "http://localhost:5173"]);
    for (const bad of ["https://app.example.com/", "app.example.com", "https://app.example.com/mcp"]) {
      expect(() => loadConfig({ MCP_ALLOWED_ORIGINS: `http://localhost:5173,${bad}` })).toThrow(/MCP_ALLOWED_ORIGINS\.1: each must be an origin such as https:\/\/app\.example\.com/);
    }
  });

  it("lists every bad setting in one ConfigError", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "abc", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message, problems } = error as ConfigError;
    expect(problems).toHaveLength(3);
    expect(message).toMatch(/^Invalid configuration:/);
    expect(message).toMatch(/^ {2}- PORT: /m);
    expect(message).toMatch(/^ {2}- DATABASE_URL: must start with file: \(SQLite\) or postgres:\/\/ \(PostgreSQL\)$/m);
    expect(message).toMatch(/^ {2}- LOG_LEVEL: /m);
  });
});
