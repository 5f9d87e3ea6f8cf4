// Logs and metrics per operation: one JSON log line per operation (request id, agent,
// operation, duration, outcome), and Prometheus series for operations by outcome code,
// refusals, subscriptions, sockets, the journal and the database. Never logs tokens,
// headers or variables.
import { getOperationAST, Kind, type DocumentNode, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { AppError } from "../errors.js";
import type { Services } from "../services.js";
import type { Context } from "./context.js";

export interface Metrics {
  refused(reason: string): void;
  /** A query that could be kept (response-cache.ts) was answered from memory, or computed. */
  answered(from: "kept" | "computed"): void;
}

export function createMetrics(registry: Registry, services: Services, sockets: () => number): Metrics & { plugin(logger: Logger): Plugin<Context> } {
  const operations = new Counter({
    name: "agent_hq_operations_total",
    help: "GraphQL operations by name, type and outcome (ok or the first error code)",
    labelNames: ["operation", "type", "outcome"],
    registers: [registry],
  });
  const durations = new Histogram({
    name: "agent_hq_operation_duration_seconds",
    help: "Time to answer a query or mutation (a subscription: to start it)",
    labelNames: ["type"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [registry],
  });
  const refusals = new Counter({ name: "agent_hq_refusals_total", help: "Operations refused before execution", labelNames: ["reason"], registers: [registry] });
  const answers = new Counter({
    name: "agent_hq_query_answers_total",
    help: "Queries that could be kept (RESPONSE_CACHE_MB), by whether a kept answer was given or the query was computed",
    labelNames: ["from"],
    registers: [registry],
  });
  const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await read());
      },
    });
  gauge("agent_hq_live_subscriptions", "Subscriptions held open now", () => services.presence.liveSubscriptions());
  gauge("agent_hq_websocket_connections", "graphql-ws connections open now", sockets);
  gauge("agent_hq_journal_head", "The highest journal cursor committed", () => services.journal.head());
  gauge("agent_hq_journal_tailer_position", "The journal cursor this instance's tailer has read up to", () => services.tailer.stats().position);
  gauge("agent_hq_journal_tailer_reads", "Journal reads by the tailer since start (one per batch of commits)", () => services.tailer.stats().reads);
  gauge("agent_hq_db_statements", "SQL statements run since start", () => services.db.statements());
  gauge("agent_hq_db_write_transactions", "Write transactions since start (SQLite commits concurrent writes together: fewer than writes under load)", () => services.db.transactions());

  return {
    refused: (reason) => refusals.inc({ reason }),
    answered: (from) => answers.inc({ from }),
    plugin: (logger) => operationsPlugin(logger, operations, durations),
  };
}

/** Counts and times each operation by its outcome, and logs one line for it. */
function operationsPlugin(logger: Logger, operations: Counter, durations: Histogram): Plugin<Context> {
  const done = (ctx: Context, document: DocumentNode, operationName: string | null | undefined, started: number, result: ExecutionResult | null) => {
    const operation = getOperationAST(document, operationName);
    const type = operation?.operation ?? "unknown";
    const name = operationName ?? operation?.name?.value ?? firstField(operation?.selectionSet.selections[0]) ?? "anonymous";
    // Results are seen before masking: a domain error's code is on its original error.
    const first = result?.errors?.[0] as { extensions?: { code?: unknown }; originalError?: unknown } | undefined;
    const outcome = !first ? "ok" : String(first.extensions?.code ?? (first.originalError instanceof AppError ? first.originalError.code : "INTERNAL_SERVER_ERROR"));
    const seconds = (performance.now() - started) / 1000;
    operations.inc({ operation: name, type, outcome });
    durations.observe({ type }, seconds);
    logger.info({ requestId: ctx.requestId, agent: ctx.viewer?.name ?? null, operation: name, type, durationMs: Math.round(seconds * 1000), outcome }, "operation");
  };
  return {
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          done(args.contextValue as Context, args.document, args.operationName, started, "errors" in result || "data" in result ? (result as ExecutionResult) : null);
        },
      };
    },
    onSubscribe({ args }) {
      const started = performance.now();
      return {
        onSubscribeResult({ result }) {
          done(args.contextValue as Context, args.document, args.operationName, started, "errors" in result ? (result as ExecutionResult) : null);
        },
      };
    },
  };
}

function firstField(selection: { kind: string; name?: { value: string } } | undefined): string | null {
  return selection?.kind === Kind.FIELD ? selection.name!.value : null;
}
