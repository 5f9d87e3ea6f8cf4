import { describe, expect, it } from "vitest";
import { ConfigError, isLoopback, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("has defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 4000,
      HOST: "127.0.0.1",
      DATABASE_URL: "file:./data/agent-hq.db",
      LOG_LEVEL: "info",
      GRAPHQL_PATH: "/graphql",
      INTROSPECTION: true,
      database: "sqlite",
    });
    expect(config.AGENT_HQ_REGISTRATION_KEY).toBeUndefined();
    expect(config.ALLOW_OPEN_REGISTRATION).toBe(false);
  });

  it("knows which hosts are reachable from this machine only", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) expect(isLoopback(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "::ffff:10.0.0.1", "fe80::1", "hq.example.com", "127.example.com"]) expect(isLoopback(host), host).toBe(false);
  });

  it("refuses to listen beyond loopback with open registration, naming both ways out", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.20"]) {
      let error: unknown;
      try {
        loadConfig({ HOST: host });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([expect.stringMatching(new RegExp(`^HOST: ${host.replace(/\./g, "\\.")} is reachable from other machines`))]);
      expect((error as ConfigError).message).toMatch(/AGENT_HQ_REGISTRATION_KEY/);
      expect((error as ConfigError).message).toMatch(/ALLOW_OPEN_REGISTRATION=true/);
    }
    expect(loadConfig({ HOST: "0.0.0.0", AGENT_HQ_REGISTRATION_KEY: "a-long-key" })).toMatchObject({ HOST: "0.0.0.0", ALLOW_OPEN_REGISTRATION: false });
    expect(loadConfig({ HOST: "0.0.0.0", ALLOW_OPEN_REGISTRATION: "true" })).toMatchObject({ HOST: "0.0.0.0", ALLOW_OPEN_REGISTRATION: true });
    expect(() => loadConfig({ HOST: "0.0.0.0", ALLOW_OPEN_REGISTRATION: "false" })).toThrow(ConfigError);
    expect(loadConfig({ HOST: "localhost" }).HOST).toBe("localhost");
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
