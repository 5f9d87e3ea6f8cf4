import { UnauthenticatedError } from "../errors.js";
import type { PrismaClient } from "../infra/db.js";
import type { Viewer } from "../modules/agents/agents.service.js";
import type { Services } from "../services.js";
import type { ReadLedger } from "./kept-reads.js";

export interface Context {
  services: Services;
  /** The agent whose bearer token came with the request, if any. */
  viewer: Viewer | null;
  requestId: string;
  /** The caller's address, for limits on calls without a valid token. */
  ip: string;
  /** Committed-data reads for the Prisma plugin's relation loading. */
  reader: PrismaClient;
  /** The operation is known to be within the cost limits (limits.ts, useKnownCosts). */
  costChecked?: boolean;
  /** Set while a query that may outlive commits is computed: task pages tell it what they read (kept-reads.ts). */
  keptReads?: ReadLedger;
}

export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) {
    throw new UnauthenticatedError("this operation needs a bearer token (Authorization: Bearer <token>); registerAgent gives you one");
  }
  return ctx.viewer;
}

/** A Prisma model that can read one row by its id (`ctx.reader.task`, `ctx.reader.team`, …). */
interface ById<T> {
  findUniqueOrThrow(args: { where: { id: string } }): PromiseLike<T>;
}

/**
 * A row a service already returned (what a mutation wrote, a search hit), as the client's
 * selection needs it. Pothos' `query` is empty when the selection asks for the row's own
 * columns only: then that row is the answer, without another statement. Otherwise the row
 * is read again, committed, with the relations the selection includes.
 */
export function rowForSelection<T extends { id: string }>(query: object, row: T, model: ById<T>): T | Promise<T> {
  return Object.keys(query).length === 0 ? row : Promise.resolve(model.findUniqueOrThrow({ ...query, where: { id: row.id } }));
}
