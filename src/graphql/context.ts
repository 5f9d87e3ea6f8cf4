import { UnauthenticatedError } from "../errors.js";
import type { PrismaClient } from "../infra/db.js";
import type { Viewer } from "../modules/agents/agents.service.js";
import type { Services } from "../services.js";

export interface Context {
  services: Services;
  /** The agent whose bearer token came with the request, if any. */
  viewer: Viewer | null;
  requestId: string;
  /** The caller's address, for limits on calls without a valid token. */
  ip: string;
  /** Committed-data reads for the Prisma plugin's relation loading. */
  reader: PrismaClient;
}

export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) {
    throw new UnauthenticatedError("this operation needs a bearer token (Authorization: Bearer <token>); registerAgent gives you one");
  }
  return ctx.viewer;
}
