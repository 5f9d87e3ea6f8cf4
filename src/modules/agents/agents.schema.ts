import { builder } from "../../graphql/builder.js";
import type { Agent } from "../../generated/prisma/client.js";
import { requireViewer, rowForSelection } from "../../graphql/context.js";
import { enumOf } from "../../graphql/enum-of.js";
import { changesWithoutCommit } from "../../graphql/response-cache.js";
import { type PrincipalKind } from "./agents.service.js";

const PrincipalKindEnum = enumOf<PrincipalKind>("PrincipalKind", {
  agent: "A program: an LLM agent, a script, a worker.",
  human: "A person (registered with the server's registration key); what it writes shows as from a human.",
});

export const AgentRef = builder.prismaObject("Agent", {
  description: "A principal with a name and a bearer token: an agent (a program) or a human.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    kind: t.field({ type: PrincipalKindEnum, description: "AGENT or HUMAN: set at registration, never changed.", select: { kind: true }, resolve: (a) => a.kind as PrincipalKind }),
    description: t.exposeString("description", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastSeenAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the agent last made a request or held a subscription (written in batches).",
      extensions: changesWithoutCommit,
      select: { lastSeenAt: true },
      resolve: (agent, _args, ctx) => ctx.services.presence.lastSeenAt(agent),
    }),
    online: t.boolean({
      description: "Whether the agent holds a live subscription now.",
      extensions: changesWithoutCommit,
      select: { onlineUntil: true },
      resolve: (agent, _args, ctx) => ctx.services.presence.online(agent),
    }),
  }),
});

builder.prismaObject("AgentToken", {
  description: "One of my bearer tokens. The token itself is shown only when issued.",
  fields: (t) => ({
    id: t.exposeID("id"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    current: t.boolean({
      description: "Whether this request authenticated with this token.",
      resolve: (token, _args, ctx) => token.id === ctx.viewer?.tokenId,
    }),
  }),
});

const RegisterAgentInput = builder.inputType("RegisterAgentInput", {
  fields: (t) => ({
    name: t.string({ required: true, description: "Unique; 1–64 letters, digits, '.', '_' or '-'." }),
    description: t.string({ description: "What this agent does (at most 1000 characters)." }),
    registrationKey: t.string({ description: "Needed only when the server sets AGENT_HQ_REGISTRATION_KEY (always for a HUMAN)." }),
    kind: t.field({ type: PrincipalKindEnum, description: "HUMAN registers a person (needs the server's registration key); AGENT by default." }),
  }),
});

const RegisterAgentPayload = builder.objectRef<{ token: string; agent: Agent }>("RegisterAgentPayload").implement({
  fields: (t) => ({
    token: t.exposeString("token", { description: "The bearer token. Shown only now: keep it." }),
    agent: t.prismaField({
      type: "Agent",
      resolve: (query, payload, _args, ctx) => rowForSelection(query, payload.agent, ctx.reader.agent),
    }),
  }),
});

const IssuedTokenPayload = builder.objectRef<{ token: string }>("IssuedTokenPayload").implement({
  fields: (t) => ({
    token: t.exposeString("token", { description: "The new bearer token. Shown only now: keep it." }),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: "Agent",
    description: "The agent the bearer token belongs to.",
    resolve: (query, _root, _args, ctx) => ctx.reader.agent.findUniqueOrThrow({ ...query, where: { id: requireViewer(ctx).id } }),
  }),
  myTokens: t.prismaField({
    type: ["AgentToken"],
    description: "My bearer tokens, revoked ones included.",
    resolve: (_query, _root, _args, ctx) => ctx.services.agents.tokens(requireViewer(ctx).id),
  }),
}));

builder.mutationFields((t) => ({
  registerAgent: t.field({
    type: RegisterAgentPayload,
    description: "Registers an agent and returns its bearer token (shown only once). Needs no token.",
    args: { input: t.arg({ type: RegisterAgentInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.agents.register(input),
  }),
  rotateToken: t.field({
    type: IssuedTokenPayload,
    description: "Issues a new bearer token and revokes the one used for this request.",
    resolve: async (_root, _args, ctx) => ({ token: (await ctx.services.agents.rotateToken(requireViewer(ctx))).token }),
  }),
  revokeToken: t.prismaField({
    type: "AgentToken",
    description: "Revokes one of my tokens; without an ID, the one used for this request.",
    args: { id: t.arg.id() },
    resolve: (_query, _root, { id }, ctx) => ctx.services.agents.revokeToken(requireViewer(ctx), id ?? null),
  }),
}));
