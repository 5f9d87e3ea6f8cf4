// Teams and membership. A team's data exists only for its members: every read goes
// through `visibleTo`, and for anyone else a team reads exactly like an unknown ID.
import { z } from "zod";
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from "../../errors.js";
import { Prisma, type Team, type TeamMember } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { boundedText, parseInput, shortName } from "../../validation.js";
import type { AgentService, Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import type { JournalTailer } from "../journal/journal-tailer.js";
import { streamJournal, type StreamOptions } from "../journal/journal-stream.js";
import type { JournalRow, JournalService } from "../journal/journal.service.js";

const role = shortName;
const teamName = boundedText(100).pipe(z.string().trim().min(1, "must not be empty"));

const createInput = z.object({ name: teamName, description: boundedText(2000).nullish(), role });
const updateInput = z.object({ name: teamName.nullish(), description: boundedText(2000).nullish() });

/** Kinds of journal rows that mean an agent lost access to a team. */
const ACCESS_LOST = new Set(["team.member_removed", "team.member_left"]);

export interface TeamRowsOptions {
  /** Only these kinds (all when empty). */
  kinds?: readonly string[] | null;
  where?: (row: JournalRow) => boolean;
}

export class TeamService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly tailer: JournalTailer,
    private readonly agents: AgentService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /** The filter every team read goes through. */
  static visibleTo(agentId: string): Prisma.TeamWhereInput {
    return { members: { some: { agentId } } };
  }

  /** visibleTo in SQL, for statements run straight (Database.rows): `teamId` is the row's team column. */
  static visibleSql(agentId: string, teamId: Prisma.Sql): Prisma.Sql {
    return Prisma.sql`EXISTS (SELECT 1 FROM "TeamMember" WHERE "TeamMember"."teamId" = ${teamId} AND "TeamMember"."agentId" = ${agentId})`;
  }

  /** A team the viewer belongs to; NOT_FOUND otherwise, exactly as for an unknown ID. */
  async get<Q extends Omit<Prisma.TeamFindFirstArgs, "where">>(viewer: Viewer, teamId: string, query?: Q): Promise<Team> {
    // The row alone (every team-scoped query asks, the board among them): straight through the driver.
    const team =
      !query || Object.keys(query).length === 0
        ? (await this.db.readRows<Team>(Prisma.sql`SELECT * FROM "Team" WHERE "Team"."id" = ${teamId} AND ${TeamService.visibleSql(viewer.id, Prisma.sql`"Team"."id"`)}`))[0]
        : await this.db.reader.team.findFirst({ ...query, where: { id: teamId, ...TeamService.visibleTo(viewer.id) } });
    if (!team) throw new NotFoundError("team");
    return team;
  }

  list<Q extends Omit<Prisma.TeamFindManyArgs, "where">>(viewer: Viewer, query?: Q): Promise<Team[]> {
    return this.db.reader.team.findMany({ orderBy: { createdAt: "asc" }, ...query, where: TeamService.visibleTo(viewer.id) });
  }

  /** Which of these agents are members of the team (read in a write transaction). */
  async membersAmong(tx: Tx, teamId: string, agentIds: string[]): Promise<Set<string>> {
    // Every claim-next batch asks: run straight (Database.rows).
    const rows = await this.db.rows<{ agentId: string }>(
      tx,
      Prisma.sql`SELECT "agentId" FROM "TeamMember" WHERE "teamId" = ${teamId} AND "agentId" IN (${this.db.dialect.strings(agentIds)})`,
    );
    return new Set(rows.map((r) => r.agentId));
  }

  /**
   * The agent ID of the team's member named `name` (null clears); BAD_USER_INPUT naming
   * `field` when no member has that name. Every module resolves a member by name here.
   */
  async memberIdByName(tx: Tx, teamId: string, name: string | null | undefined, field: string): Promise<string | null> {
    if (name == null) return null;
    const member = await tx.teamMember.findFirst({ where: { teamId, agent: { name } }, select: { agentId: true } });
    if (!member) throw new BadInputError(field, `${name} is not a member of this team`);
    return member.agentId;
  }

  /** The agent's role in the team, or null when it is not a member. */
  async roleOf(tx: Tx, teamId: string, agentId: string): Promise<string | null> {
    const member = await tx.teamMember.findUnique({ where: { teamId_agentId: { teamId, agentId } }, select: { role: true } });
    return member?.role ?? null;
  }

  /** The team's members' agent IDs, but `except` (read in a write transaction). */
  async memberIds(tx: Tx, teamId: string, opts: { except?: string } = {}): Promise<string[]> {
    const rows = await tx.teamMember.findMany({ where: { teamId, ...(opts.except ? { agentId: { not: opts.except } } : {}) }, select: { agentId: true } });
    return rows.map((r) => r.agentId);
  }

  /** The IDs of the teams the agent belongs to. */
  async teamIdsOf(agentId: string, client: Tx = this.db.reader): Promise<string[]> {
    const rows = await client.teamMember.findMany({ where: { agentId }, select: { teamId: true } });
    return rows.map((r) => r.teamId);
  }

  /** The agents of these names who share a team with `agentId`, by name (each once; other names are left out). */
  async agentsSharingATeam(tx: Tx, agentId: string, names: string[]): Promise<{ id: string; name: string }[]> {
    const rows = await tx.teamMember.findMany({
      where: { agent: { name: { in: names } }, team: { members: { some: { agentId } } } },
      select: { agentId: true, agent: { select: { name: true } } },
    });
    const agents = new Map(rows.map((r) => [r.agentId, { id: r.agentId, name: r.agent.name }]));
    return [...agents.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * The teams `agentId` shares with any of `others`, each with those of `others` who are
   * its members (by name), oldest team first (team IDs are time-ordered).
   */
  async sharedTeams(tx: Tx, agentId: string, others: string[]): Promise<{ teamId: string; members: string[] }[]> {
    if (others.length === 0) return [];
    const rows = await tx.teamMember.findMany({
      where: { agentId: { in: others }, team: { members: { some: { agentId } } } },
      select: { teamId: true, agent: { select: { name: true } } },
      orderBy: { teamId: "asc" },
    });
    const teams = new Map<string, string[]>();
    for (const r of rows) teams.set(r.teamId, [...(teams.get(r.teamId) ?? []), r.agent.name]);
    return [...teams].map(([teamId, members]) => ({ teamId, members: members.sort() }));
  }

  async isMember(agentId: string, teamId: string): Promise<boolean> {
    return (await this.db.reader.teamMember.count({ where: { agentId, teamId } })) > 0;
  }

  async create(viewer: Viewer, input: z.input<typeof createInput>, idempotencyKey?: string | null): Promise<Team> {
    const { name, description, role } = parseInput(createInput, input);
    const request = { operation: "createTeam", args: { name, description, role } };
    return this.idempotency.write(viewer, idempotencyKey, request, (tx, id) => tx.team.findUnique({ where: { id } }), async ({ tx, append }) => {
      await this.assertNameFree(tx, viewer, name);
      const team = await tx.team.create({
        data: {
          name,
          description: description ?? null,
          leadId: viewer.id,
          createdById: viewer.id,
          members: { create: { agentId: viewer.id, role } },
        },
      });
      await append(
        { teamId: team.id, actorId: viewer.id, kind: "team.created", subjectType: "Team", subjectId: team.id, payload: { name, description: description ?? null } },
        { teamId: team.id, actorId: viewer.id, kind: "team.member_added", subjectType: "Agent", subjectId: viewer.id, payload: { agentName: viewer.name, role, lead: true } },
      );
      return team;
    });
  }

  async update(viewer: Viewer, teamId: string, input: z.input<typeof updateInput>): Promise<Team> {
    const changes = parseInput(updateInput, input);
    // An omitted field stays as it is; a null description clears it.
    const data: Prisma.TeamUpdateInput = {};
    if (changes.name != null) data.name = changes.name;
    if (changes.description !== undefined) data.description = changes.description;
    return this.journal.write(async ({ tx, append }) => {
      await this.requireLead(tx, viewer, teamId);
      if (changes.name != null) await this.assertNameFree(tx, viewer, changes.name, teamId);
      const team = await tx.team.update({ where: { id: teamId }, data });
      await append({ teamId, actorId: viewer.id, kind: "team.updated", subjectType: "Team", subjectId: teamId, payload: { ...data } as Prisma.InputJsonObject });
      return team;
    });
  }

  async addMember(viewer: Viewer, teamId: string, input: { agentName: string; role: string }): Promise<TeamMember> {
    const { role: memberRole } = parseInput(z.object({ role }), input);
    await this.get(viewer, teamId);
    const agent = await this.agents.byName(input.agentName);
    return this.journal.write(async ({ tx, append }) => {
      await this.requireLead(tx, viewer, teamId);
      if (await tx.teamMember.findUnique({ where: { teamId_agentId: { teamId, agentId: agent.id } } })) {
        throw new ConflictError(`${agent.name} is already a member of this team; use setTeamMemberRole to change the role`);
      }
      const member = await tx.teamMember.create({ data: { teamId, agentId: agent.id, role: memberRole } });
      await append({ teamId, actorId: viewer.id, kind: "team.member_added", subjectType: "Agent", subjectId: agent.id, payload: { agentName: agent.name, role: memberRole } });
      return member;
    });
  }

  async setMemberRole(viewer: Viewer, teamId: string, agentId: string, newRole: string): Promise<TeamMember> {
    const { role: memberRole } = parseInput(z.object({ role }), { role: newRole });
    return this.journal.write(async ({ tx, append }) => {
      await this.requireLead(tx, viewer, teamId);
      const { agent, ...member } = await this.requireMember(tx, teamId, agentId);
      if (member.role === memberRole) return member;
      const updated = await tx.teamMember.update({ where: { teamId_agentId: { teamId, agentId } }, data: { role: memberRole } });
      await append({ teamId, actorId: viewer.id, kind: "team.member_role_changed", subjectType: "Agent", subjectId: agentId, payload: { agentName: agent.name, from: member.role, role: memberRole } });
      return updated;
    });
  }

  async removeMember(viewer: Viewer, teamId: string, agentId: string): Promise<Team> {
    return this.journal.write(async ({ tx, append }) => {
      const team = await this.requireLead(tx, viewer, teamId);
      const member = await this.requireMember(tx, teamId, agentId);
      if (agentId === team.leadId) throw new ConflictError("the lead cannot be removed; transfer the lead first (transferTeamLead)");
      await tx.teamMember.delete({ where: { teamId_agentId: { teamId, agentId } } });
      await append({ teamId, actorId: viewer.id, kind: "team.member_removed", subjectType: "Agent", subjectId: agentId, payload: { agentName: member.agent.name } });
      return team;
    });
  }

  async leave(viewer: Viewer, teamId: string): Promise<Team> {
    return this.journal.write(async ({ tx, append }) => {
      const team = await this.requireVisible(tx, viewer, teamId);
      if (team.leadId === viewer.id) throw new ConflictError("the lead cannot leave; transfer the lead to another member first (transferTeamLead)");
      await tx.teamMember.delete({ where: { teamId_agentId: { teamId, agentId: viewer.id } } });
      await append({ teamId, actorId: viewer.id, kind: "team.member_left", subjectType: "Agent", subjectId: viewer.id, payload: { agentName: viewer.name } });
      return team;
    });
  }

  async transferLead(viewer: Viewer, teamId: string, agentId: string): Promise<Team> {
    return this.journal.write(async ({ tx, append }) => {
      const current = await this.requireLead(tx, viewer, teamId);
      const member = await this.requireMember(tx, teamId, agentId);
      if (agentId === viewer.id) return current;
      const team = await tx.team.update({ where: { id: teamId }, data: { leadId: agentId } });
      await append({ teamId, actorId: viewer.id, kind: "team.lead_transferred", subjectType: "Agent", subjectId: agentId, payload: { agentName: member.agent.name, from: viewer.name, fromId: viewer.id } });
      return team;
    });
  }

  members(teamId: string): Promise<TeamMember[]> {
    return this.db.reader.teamMember.findMany({ where: { teamId }, orderBy: { joinedAt: "asc" } });
  }

  /** The team's journal (its audit log), for members. */
  async journalPage(viewer: Viewer, teamId: string, opts: { after: number; first: number; kinds?: readonly string[] }): Promise<JournalRow[]> {
    await this.get(viewer, teamId);
    return this.journal.readAfter({ teamId }, opts.after, opts.first, opts.kinds);
  }

  /**
   * Everything that happens in a team: replay after a cursor, then live. Ends when the
   * subscriber leaves or is removed from the team.
   */
  async events(viewer: Viewer, teamId: string, opts: TeamRowsOptions & { after?: number | null }): Promise<AsyncIterable<JournalRow>> {
    return streamJournal(this.journal, this.tailer, { ...(await this.teamRows(viewer, teamId, opts)), after: opts.after });
  }

  /**
   * Which journal rows of a team the viewer sees (NOT_FOUND unless a member), and when its
   * view ends (it left or was removed). The one rule, for the subscriptions and the wait call.
   */
  async teamRows(viewer: Viewer, teamId: string, opts: TeamRowsOptions = {}): Promise<Required<Pick<StreamOptions, "scope" | "emit" | "endsAfter">>> {
    await this.get(viewer, teamId);
    const kinds = opts.kinds?.length ? new Set(opts.kinds) : null;
    const where = opts.where ?? (() => true);
    return {
      scope: { teamId },
      emit: (row) => (!kinds || kinds.has(row.kind)) && where(row),
      // A replayed removal may be followed by a re-admission: ask the database. Other rows
      // answer at once (no promise): this runs for every row and every subscriber.
      endsAfter: (row) => ACCESS_LOST.has(row.kind) && row.subjectId === viewer.id && this.isMember(viewer.id, teamId).then((member) => !member),
    };
  }


  /**
   * Takes the team's next task number. The update locks the team row on PostgreSQL
   * until commit, which also serializes every change to the team's dependency graph
   * made after it in the same transaction (SQLite has one writer anyway).
   */
  async takeTaskNumber(tx: Tx, teamId: string): Promise<number> {
    const team = await tx.team.update({ where: { id: teamId }, data: { nextTaskNumber: { increment: 1 } }, select: { nextTaskNumber: true } });
    return team.nextTaskNumber - 1;
  }

  /** Serializes changes to a team's dependency graph (see takeTaskNumber). */
  async lockBoard(tx: Tx, teamId: string): Promise<void> {
    await tx.team.update({ where: { id: teamId }, data: { nextTaskNumber: { increment: 0 } }, select: { id: true } });
  }

  /**
   * Names are unique among the teams an agent belongs to. The check looks only at teams
   * the agent can see, so a refusal reveals nothing about anyone else's teams.
   */
  private async assertNameFree(tx: Tx, viewer: Viewer, name: string, exceptTeamId?: string) {
    const clash = await tx.team.findFirst({
      where: { name, ...TeamService.visibleTo(viewer.id), ...(exceptTeamId ? { id: { not: exceptTeamId } } : {}) },
      select: { id: true },
    });
    if (clash) throw new ConflictError(`you already belong to a team named "${name}"; choose another name`);
  }

  /** The team, read in a write transaction; NOT_FOUND unless the viewer belongs to it. */
  async requireVisible(tx: Tx, viewer: Viewer, teamId: string): Promise<Team> {
    const team = await tx.team.findFirst({ where: { id: teamId, ...TeamService.visibleTo(viewer.id) } });
    if (!team) throw new NotFoundError("team");
    return team;
  }

  /** The team, read in a write transaction; FORBIDDEN unless the viewer is its lead. */
  async requireLead(tx: Tx, viewer: Viewer, teamId: string): Promise<Team> {
    const team = await this.requireVisible(tx, viewer, teamId);
    if (team.leadId !== viewer.id) throw new ForbiddenError("only the team's lead may do this");
    return team;
  }

  private async requireMember(tx: Tx, teamId: string, agentId: string): Promise<TeamMember & { agent: { name: string } }> {
    const member = await tx.teamMember.findUnique({ where: { teamId_agentId: { teamId, agentId } }, include: { agent: { select: { name: true } } } });
    if (!member) throw new NotFoundError("team member");
    return member;
  }
}
