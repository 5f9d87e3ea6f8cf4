import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type GqlResult, type TestAgent, type Transport } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const CREATE = `mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { id name description lead { id name } members { role agent { id name } } }
}`;
const TEAM = `query($id: ID!) { team(id: $id) { id name description myRole lead { name } members { role agent { name } } } }`;
const TEAMS = `{ teams(first: 100) { edges { node { id name } } } }`;
const UPDATE = `mutation($t: ID!, $input: UpdateTeamInput!) { updateTeam(teamId: $t, input: $input) { id name description } }`;
const ADD = `mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role agent { id name } } }`;
const SET_ROLE = `mutation($t: ID!, $a: ID!, $r: String!) { setTeamMemberRole(teamId: $t, agentId: $a, role: $r) { role agent { name } } }`;
const REMOVE = `mutation($t: ID!, $a: ID!) { removeTeamMember(teamId: $t, agentId: $a) { id members { agent { name } } } }`;
const LEAVE = `mutation($t: ID!) { leaveTeam(teamId: $t) }`;
const TRANSFER = `mutation($t: ID!, $a: ID!) { transferTeamLead(teamId: $t, agentId: $a) { id lead { name } } }`;
const JOURNAL = `query($id: ID!, $first: Int, $after: Int, $kinds: [String!]) {
  team(id: $id) {
    journal(first: $first, after: $after, kinds: $kinds) {
      edges { cursor node { cursor kind teamId actor { name } subjectId payload } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const EVENTS = `subscription($t: ID!, $after: Int, $kinds: [String!]) {
  teamEvents(teamId: $t, after: $after, kinds: $kinds) { cursor kind actor { name } subjectId payload }
}`;

/** Agent names are unique per server: every test registers its own agents. */
let agentCount = 0;
const newAgent = (label: string) => registerAgent(server, `${label}-${++agentCount}`);

const db = () => server.app.services.db.reader;
const journalRows = (teamId: string) => db().journalEvent.count({ where: { teamId } });

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Subscribes, returns the first result, and requires the server to complete the subscription. */
async function subscribeOnce(agent: TestAgent, transport: Transport, teamId: string): Promise<GqlResult> {
  const sub = agent.subscribe(transport, EVENTS, { t: teamId, after: 0 });
  try {
    const first = await sub.next(5_000);
    await within(sub.done, 5_000, `${transport} subscription completing`);
    return first;
  } finally {
    await sub.close();
  }
}

async function teamIds(agent: TestAgent): Promise<string[]> {
  const { teams } = await agent.ok(TEAMS);
  return teams.edges.map((e: any) => e.node.id);
}

/** The newest journal cursor of a team, as a member reads it. */
async function currentCursor(member: TestAgent, teamId: string): Promise<number> {
  let last = 0;
  for (;;) {
    const { team }: any = await member.ok(JOURNAL, { id: teamId, first: 100, after: last });
    const { edges, pageInfo } = team.journal;
    if (edges.length) last = edges[edges.length - 1].node.cursor;
    if (!pageInfo.hasNextPage) return last;
  }
}

describe("createTeam", () => {
  it("makes the creator the lead and a member with the given role", async () => {
    const creator = await newAgent("creator");
    const { createTeam } = await creator.ok(CREATE, { input: { name: "Research", description: "reads papers", role: "planner" } });
    expect(createTeam).toMatchObject({
      name: "Research",
      description: "reads papers",
      lead: { id: creator.id, name: creator.name },
      members: [{ role: "planner", agent: { id: creator.id, name: creator.name } }],
    });
    const { team } = await creator.ok(TEAM, { id: createTeam.id });
    expect(team).toMatchObject({ id: createTeam.id, myRole: "planner", lead: { name: creator.name }, members: [{ role: "planner", agent: { name: creator.name } }] });
    expect(await teamIds(creator)).toEqual([createTeam.id]);
  });

  it("refuses a duplicate name by the same creator with CONFLICT and writes nothing", async () => {
    const creator = await newAgent("dup");
    await createTeam(creator, "Ops");
    const teamsBefore = await db().team.count();
    const journalBefore = await db().journalEvent.count();
    for (const name of ["Ops", "  Ops  "]) {
      const error = await creator.fails(CREATE, { input: { name, role: "lead" } });
      expect(error.code).toBe("CONFLICT");
      expect(error.message).toMatch(/already belong to a team named "Ops"/);
    }
    expect(await db().team.count()).toBe(teamsBefore);
    expect(await db().journalEvent.count()).toBe(journalBefore);
  });

  it("lets another creator use the same name", async () => {
    const first = await newAgent("first");
    const second = await newAgent("second");
    const a = await createTeam(first, "Shared name");
    const { createTeam: b } = await second.ok(CREATE, { input: { name: "Shared name", role: "lead" } });
    expect(b.id).not.toBe(a);
    expect(b.name).toBe("Shared name");
    expect(await teamIds(first)).toEqual([a]);
    expect(await teamIds(second)).toEqual([b.id]);
  });

  it.each([
    ["an empty name", { name: "", role: "lead" }, "name"],
    ["a blank name", { name: "   ", role: "lead" }, "name"],
    ["a name over 100 characters", { name: "n".repeat(101), role: "lead" }, "name"],
    ["control characters in the name", { name: "bad\u0001name", role: "lead" }, "name"],
    ["a role with invalid characters", { name: "fine", role: "lead/admin" }, "role"],
    ["an empty role", { name: "fine", role: "" }, "role"],
    ["a role over 64 characters", { name: "fine", role: "r".repeat(65) }, "role"],
    ["control characters in the description", { name: "fine", role: "lead", description: "ring\u0007the bell" }, "description"],
    ["a description over 2000 characters", { name: "fine", role: "lead", description: "d".repeat(2001) }, "description"],
  ])("refuses %s with BAD_USER_INPUT naming the field, and writes nothing", async (_what, input, field) => {
    const creator = await newAgent("bad-input");
    const teamsBefore = await db().team.count();
    const journalBefore = await db().journalEvent.count();
    const error = await creator.fails(CREATE, { input });
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(await db().team.count()).toBe(teamsBefore);
    expect(await db().journalEvent.count()).toBe(journalBefore);
    expect(await teamIds(creator)).toEqual([]);
  });

  it("accepts a 100-character name, a multi-line description and a role with spaces", async () => {
    const creator = await newAgent("edge");
    const name = "x".repeat(100);
    const { createTeam } = await creator.ok(CREATE, { input: { name, description: "line 1\n\tline 2", role: "Senior dev 2.0_a-b" } });
    expect(createTeam).toMatchObject({ name, description: "line 1\n\tline 2", members: [{ role: "Senior dev 2.0_a-b" }] });
    expect((await creator.ok(TEAM, { id: createTeam.id })).team.myRole).toBe("Senior dev 2.0_a-b");
  });

  // Mutations re-read the team with the client's selection, so fields that load their
  // own data (myRole) work on a mutation's answer too.
  it("answers myRole on the team a mutation returns", async () => {
    const creator = await newAgent("my-role");
    const created = await creator.run(`mutation { createTeam(input: { name: "Mutated", role: "planner" }) { id myRole } }`);
    expect(created.errors).toBeUndefined();
    expect(created.data?.createTeam.myRole).toBe("planner");
    const updated = await creator.run(`mutation($t: ID!) { updateTeam(teamId: $t, input: { description: "x" }) { myRole } }`, { t: created.data?.createTeam.id });
    expect(updated.errors).toBeUndefined();
    expect(updated.data?.updateTeam.myRole).toBe("planner");
  });
});

describe("membership", () => {
  it("lets the lead add members by name with a role; unknown names are NOT_FOUND, members CONFLICT", async () => {
    const lead = await newAgent("lead");
    const planner = await newAgent("planner");
    const teamId = await createTeam(lead, "Builders");

    const { addTeamMember } = await lead.ok(ADD, { t: teamId, n: planner.name, r: "planner" });
    expect(addTeamMember).toEqual({ role: "planner", agent: { id: planner.id, name: planner.name } });

    const unknown = await lead.fails(ADD, { t: teamId, n: "nobody-by-this-name", r: "x" });
    expect(unknown.code).toBe("NOT_FOUND");
    for (const name of [planner.name, lead.name]) {
      const again = await lead.fails(ADD, { t: teamId, n: name, r: "other" });
      expect(again.code).toBe("CONFLICT");
    }
    const badRole = await lead.fails(ADD, { t: teamId, n: "whoever", r: "no/slashes" });
    expect(badRole.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "role" });

    const { team } = await planner.ok(TEAM, { id: teamId });
    expect(team).toMatchObject({
      name: "Builders",
      myRole: "planner",
      lead: { name: lead.name },
      members: [
        { role: "lead", agent: { name: lead.name } },
        { role: "planner", agent: { name: planner.name } },
      ],
    });
    expect(await teamIds(planner)).toEqual([teamId]);
  });

  it("lets the lead change a member's role", async () => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const teamId = await createTeam(lead, "Roles", [[member, "coder"]]);
    const { setTeamMemberRole } = await lead.ok(SET_ROLE, { t: teamId, a: member.id, r: "reviewer" });
    expect(setTeamMemberRole).toEqual({ role: "reviewer", agent: { name: member.name } });
    expect((await member.ok(TEAM, { id: teamId })).team.myRole).toBe("reviewer");

    const notMember = await newAgent("stranger");
    expect((await lead.fails(SET_ROLE, { t: teamId, a: notMember.id, r: "x" })).code).toBe("NOT_FOUND");
    expect((await lead.fails(SET_ROLE, { t: teamId, a: member.id, r: "" })).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "role" });
  });

  it("lets the lead remove a member, who then no longer sees the team", async () => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const teamId = await createTeam(lead, "Removal", [[member, "coder"]]);
    const { removeTeamMember } = await lead.ok(REMOVE, { t: teamId, a: member.id });
    expect(removeTeamMember).toEqual({ id: teamId, members: [{ agent: { name: lead.name } }] });
    expect((await member.fails(TEAM, { id: teamId })).code).toBe("NOT_FOUND");
    expect(await teamIds(member)).toEqual([]);
    expect((await lead.fails(REMOVE, { t: teamId, a: member.id })).code).toBe("NOT_FOUND");
  });

  it("refuses to remove the lead, or to let the lead leave, with CONFLICT", async () => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const teamId = await createTeam(lead, "Sticky", [[member, "coder"]]);
    expect((await lead.fails(REMOVE, { t: teamId, a: lead.id })).code).toBe("CONFLICT");
    expect((await lead.fails(LEAVE, { t: teamId })).code).toBe("CONFLICT");
    expect((await lead.ok(TEAM, { id: teamId })).team.members).toHaveLength(2);
  });

  it("lets a member leave", async () => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const teamId = await createTeam(lead, "Leaving", [[member, "coder"]]);
    expect(await member.ok(LEAVE, { t: teamId })).toEqual({ leaveTeam: true });
    expect((await member.fails(TEAM, { id: teamId })).code).toBe("NOT_FOUND");
    expect((await member.fails(LEAVE, { t: teamId })).code).toBe("NOT_FOUND");
    expect((await lead.ok(TEAM, { id: teamId })).team.members).toEqual([{ role: "lead", agent: { name: lead.name } }]);
  });

  it("transfers the lead: the new lead has the lead's powers, the old one can leave", async () => {
    const lead = await newAgent("lead");
    const heir = await newAgent("heir");
    const outsider = await newAgent("outsider");
    const teamId = await createTeam(lead, "Succession", [[heir, "deputy"]]);

    expect((await lead.fails(TRANSFER, { t: teamId, a: outsider.id })).code).toBe("NOT_FOUND");
    const { transferTeamLead } = await lead.ok(TRANSFER, { t: teamId, a: heir.id });
    expect(transferTeamLead).toEqual({ id: teamId, lead: { name: heir.name } });

    expect((await lead.fails(UPDATE, { t: teamId, input: { name: "mine again" } })).code).toBe("FORBIDDEN");
    expect((await heir.fails(LEAVE, { t: teamId })).code).toBe("CONFLICT");
    await heir.ok(UPDATE, { t: teamId, input: { name: "Succession II" } });
    expect(await lead.ok(LEAVE, { t: teamId })).toEqual({ leaveTeam: true });
    expect((await heir.ok(TEAM, { id: teamId })).team).toMatchObject({
      name: "Succession II",
      lead: { name: heir.name },
      members: [{ role: "deputy", agent: { name: heir.name } }],
    });
  });

  it("lets the lead rename and redescribe the team; null clears the description", async () => {
    const lead = await newAgent("lead");
    const teamId = await createTeam(lead, "Draft");
    await createTeam(lead, "Taken");
    expect((await lead.ok(UPDATE, { t: teamId, input: { description: "about us" } })).updateTeam).toEqual({ id: teamId, name: "Draft", description: "about us" });
    expect((await lead.ok(UPDATE, { t: teamId, input: { name: "Final" } })).updateTeam).toEqual({ id: teamId, name: "Final", description: "about us" });
    expect((await lead.ok(UPDATE, { t: teamId, input: { description: null } })).updateTeam).toEqual({ id: teamId, name: "Final", description: null });
    expect((await lead.fails(UPDATE, { t: teamId, input: { name: "Taken" } })).code).toBe("CONFLICT");
    expect((await lead.fails(UPDATE, { t: teamId, input: { name: "" } })).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "name" });
  });

  it("answers a non-lead member's lead-only mutations with FORBIDDEN and changes nothing", async () => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const other = await newAgent("other");
    const outsider = await newAgent("outsider");
    const teamId = await createTeam(lead, "Hierarchy", [[member, "coder"], [other, "tester"]]);
    const before = (await lead.ok(TEAM, { id: teamId })).team;
    const rowsBefore = await journalRows(teamId);

    const attempts: [string, string, Record<string, unknown>][] = [
      ["updateTeam", UPDATE, { t: teamId, input: { name: "coup" } }],
      ["addTeamMember", ADD, { t: teamId, n: outsider.name, r: "friend" }],
      ["setTeamMemberRole", SET_ROLE, { t: teamId, a: other.id, r: "boss" }],
      ["setTeamMemberRole (self)", SET_ROLE, { t: teamId, a: member.id, r: "boss" }],
      ["removeTeamMember", REMOVE, { t: teamId, a: other.id }],
      ["removeTeamMember (lead)", REMOVE, { t: teamId, a: lead.id }],
      ["transferTeamLead", TRANSFER, { t: teamId, a: member.id }],
    ];
    for (const [what, query, variables] of attempts) {
      const error = await member.fails(query, variables);
      expect(error.code, what).toBe("FORBIDDEN");
    }
    expect((await lead.ok(TEAM, { id: teamId })).team).toEqual(before);
    expect(await journalRows(teamId)).toBe(rowsBefore);
  });

  it("lists only my teams in `teams`", async () => {
    const me = await newAgent("me");
    const someone = await newAgent("someone");
    const mine = await createTeam(me, "Mine");
    const joined = await createTeam(someone, "Joined", [[me, "guest"]]);
    const theirs = await createTeam(someone, "Theirs");
    const { teams } = await me.ok(TEAMS);
    expect(teams.edges.map((e: any) => e.node)).toEqual([
      { id: mine, name: "Mine" },
      { id: joined, name: "Joined" },
    ]);
    expect(await teamIds(someone)).toEqual([joined, theirs]);
  });

  it("reads myRole next to the full member list", async () => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const teamId = await createTeam(lead, "Both", [[member, "analyst"]]);
    const { team } = await member.ok(`query($id: ID!) { team(id: $id) { myRole members { role agent { name } } lead { name } } }`, { id: teamId });
    expect(team).toEqual({
      myRole: "analyst",
      members: [
        { role: "lead", agent: { name: lead.name } },
        { role: "analyst", agent: { name: member.name } },
      ],
      lead: { name: lead.name },
    });
  });
});

describe("visibility: a team does not exist for a non-member", () => {
  it("reads the team row Prisma reads for a member, and NOT_FOUND for anyone else, with or without a selection", async () => {
    const lead = await registerAgent(server, `row-lead-${randomUUID().slice(0, 8)}`);
    const stranger = await registerAgent(server, `row-stranger-${randomUUID().slice(0, 8)}`);
    const teamId = await createTeam(lead, `row-${randomUUID().slice(0, 8)}`);
    const { teams, db } = server.app.services;
    const as = (agent: TestAgent) => ({ id: agent.id, name: agent.name, tokenId: "test" });
    // No selection: read straight through the driver; a selection: through Prisma.
    const straight = await teams.get(as(lead), teamId);
    expect(straight).toStrictEqual(await db.reader.team.findUniqueOrThrow({ where: { id: teamId } }));
    expect(straight.createdAt).toBeInstanceOf(Date);
    expect(await teams.get(as(lead), teamId, { include: { members: true } })).toMatchObject({ ...straight, members: [expect.objectContaining({ agentId: lead.id })] });
    for (const query of [undefined, {}, { include: { members: true } }]) {
      await expect(teams.get(as(stranger), teamId, query)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(teams.get(as(lead), randomUUID(), query)).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
  });

  it("answers every operation on a team ID exactly as for an unknown or malformed ID, and changes nothing", async () => {
    const lead = await newAgent("owner");
    const member = await newAgent("insider");
    const prober = await newAgent("prober");
    const teamId = await createTeam(lead, "Secret", [[member, "coder"]]);
    const probersOwn = await createTeam(prober, "Prober's own");
    const before = (await lead.ok(TEAM, { id: teamId })).team;
    const rowsBefore = await journalRows(teamId);

    const operations: [string, (id: string) => Promise<GqlResult>][] = [
      ["team", (id) => prober.run(TEAM, { id })],
      ["team.journal", (id) => prober.run(JOURNAL, { id, first: 50 })],
      ["updateTeam", (id) => prober.run(UPDATE, { t: id, input: { name: "pwned", description: "pwned" } })],
      ["addTeamMember", (id) => prober.run(ADD, { t: id, n: prober.name, r: "spy" })],
      ["setTeamMemberRole", (id) => prober.run(SET_ROLE, { t: id, a: member.id, r: "spy" })],
      ["removeTeamMember", (id) => prober.run(REMOVE, { t: id, a: member.id })],
      ["leaveTeam", (id) => prober.run(LEAVE, { t: id })],
      ["transferTeamLead", (id) => prober.run(TRANSFER, { t: id, a: member.id })],
      ["teamEvents over ws", (id) => subscribeOnce(prober, "ws", id)],
      ["teamEvents over sse", (id) => subscribeOnce(prober, "sse", id)],
    ];
    const ids = { real: teamId, unknown: randomUUID(), malformed: "not-an-id" };

    for (const [operation, run] of operations) {
      const real = await run(ids.real);
      const unknown = await run(ids.unknown);
      const malformed = await run(ids.malformed);
      expect(real.errors, operation).toHaveLength(1);
      expect(real.errors?.[0]?.extensions?.code, operation).toBe("NOT_FOUND");
      expect(real.errors?.[0]?.message, operation).toBe("team not found");
      expect(real.data ?? null, operation).toBeNull();
      // Identical answers: data, message, code, path, everything.
      expect(unknown, `${operation}: unknown ID vs real ID`).toEqual(real);
      expect(malformed, `${operation}: malformed ID vs real ID`).toEqual(real);
    }

    expect(await teamIds(prober)).toEqual([probersOwn]);
    expect((await lead.ok(TEAM, { id: teamId })).team).toEqual(before);
    expect(await journalRows(teamId)).toBe(rowsBefore);
  });

  // Names are unique among the teams an agent belongs to, so a rename by a lead who got
  // the team by transferTeamLead says nothing about the creator's other teams.
  it("does not reveal the creator's other team names to a lead who renames a transferred team", async () => {
    const creator = await newAgent("creator");
    const heir = await newAgent("heir");
    const teamId = await createTeam(creator, "Public", [[heir, "deputy"]]);
    await createTeam(creator, "Hidden");
    await creator.ok(TRANSFER, { t: teamId, a: heir.id });
    // A free name is accepted; a name only the creator's hidden team uses must be too.
    expect((await heir.ok(UPDATE, { t: teamId, input: { name: "Free" } })).updateTeam.name).toBe("Free");
    const taken = await heir.run(UPDATE, { t: teamId, input: { name: "Hidden" } });
    expect(taken.errors).toBeUndefined();
    expect(taken.data?.updateTeam.name).toBe("Hidden");
  });
});

describe("the journal as audit log", () => {
  async function auditedTeam() {
    const lead = await newAgent("auditor");
    const planner = await newAgent("planner");
    const coder = await newAgent("coder");
    const teamId = await createTeam(lead, "Audited", [[planner, "planner"], [coder, "coder"]]);
    // Another team's rows interleave in the global journal but never show here.
    await createTeam(await newAgent("noise"), "Noise");
    await lead.ok(SET_ROLE, { t: teamId, a: planner.id, r: "reviewer" });
    await lead.ok(REMOVE, { t: teamId, a: coder.id });
    return { lead, planner, coder, teamId };
  }

  it("lists every change in cursor order with its kind, actor and subject", async () => {
    const { lead, planner, coder, teamId } = await auditedTeam();
    const { team } = await planner.ok(JOURNAL, { id: teamId, first: 50 });
    const nodes = team.journal.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => [n.kind, n.actor?.name, n.subjectId])).toEqual([
      ["team.created", lead.name, teamId],
      ["team.member_added", lead.name, lead.id],
      ["team.member_added", lead.name, planner.id],
      ["team.member_added", lead.name, coder.id],
      ["team.member_role_changed", lead.name, planner.id],
      ["team.member_removed", lead.name, coder.id],
    ]);
    expect(nodes.every((n: any) => n.teamId === teamId)).toBe(true);
    expect(nodes[0].payload).toEqual({ name: "Audited", description: null });
    expect(nodes[1].payload).toEqual({ agentName: lead.name, role: "lead", lead: true });
    expect(nodes[2].payload).toEqual({ agentName: planner.name, role: "planner" });
    expect(nodes[4].payload).toEqual({ agentName: planner.name, from: "planner", role: "reviewer" });
    expect(nodes[5].payload).toEqual({ agentName: coder.name });
    const cursors = nodes.map((n: any) => n.cursor as number);
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(team.journal.edges.map((e: any) => e.cursor)).toEqual(cursors.map(String));
    expect(team.journal.pageInfo).toEqual({ hasNextPage: false, endCursor: String(cursors[cursors.length - 1]) });
  });

  it("pages with first and after (an Int cursor, as the subscriptions take): endCursor, visiting every row once", async () => {
    const { planner, teamId } = await auditedTeam();
    const all = (await planner.ok(JOURNAL, { id: teamId, first: 50 })).team.journal.edges.map((e: any) => e.node.cursor);
    const seen: number[] = [];
    let after: number | null = null;
    let pages = 0;
    for (;;) {
      const { team }: any = await planner.ok(JOURNAL, { id: teamId, first: 2, after });
      const { edges, pageInfo } = team.journal;
      expect(edges.length).toBeLessThanOrEqual(2);
      seen.push(...edges.map((e: any) => e.node.cursor));
      pages++;
      if (!pageInfo.hasNextPage) break;
      expect(pageInfo.endCursor).toBe(edges[edges.length - 1].cursor);
      after = edges[edges.length - 1].node.cursor;
      expect(after).toBe(Number(pageInfo.endCursor));
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("filters by kinds", async () => {
    const { lead, planner, coder, teamId } = await auditedTeam();
    const { team } = await lead.ok(JOURNAL, { id: teamId, first: 50, kinds: ["team.member_added"] });
    expect(team.journal.edges.map((e: any) => [e.node.kind, e.node.subjectId])).toEqual([
      ["team.member_added", lead.id],
      ["team.member_added", planner.id],
      ["team.member_added", coder.id],
    ]);
  });

  it.each([
    [{ first: 101 }, "first"],
    [{ first: -1 }, "first"],
    [{ first: 10, after: -1 }, "after"],
  ])("refuses %j with BAD_USER_INPUT", async (args, field) => {
    const { lead, teamId } = await auditedTeam();
    const error = await lead.fails(JOURNAL, { id: teamId, ...args });
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
  });

  it("accepts first: 100", async () => {
    const { lead, teamId } = await auditedTeam();
    const { team } = await lead.ok(JOURNAL, { id: teamId, first: 100 });
    expect(team.journal.edges).toHaveLength(6);
  });
});

describe("teamEvents", () => {
  it.each(["ws", "sse"] as const)("replays after a cursor and then streams live over %s", async (transport) => {
    const lead = await newAgent("lead");
    const member = await newAgent("member");
    const teamId = await createTeam(lead, "Live", [[member, "coder"]]);
    const sub = member.subscribe(transport, EVENTS, { t: teamId, after: 0 });
    try {
      const replayed = [];
      for (let i = 0; i < 3; i++) replayed.push((await sub.next()).data?.teamEvents.kind);
      expect(replayed).toEqual(["team.created", "team.member_added", "team.member_added"]);
      await lead.ok(UPDATE, { t: teamId, input: { description: "now live" } });
      const live = await sub.next();
      expect(live.data?.teamEvents).toMatchObject({ kind: "team.updated", actor: { name: lead.name }, subjectId: teamId, payload: { description: "now live" } });
    } finally {
      await sub.close();
    }
  });

  describe.each(["ws", "sse"] as const)("over %s, an agent who loses access stops receiving the team's events", (transport) => {
    /** Subscribes as `member` after the current cursor and waits until the stream is live. */
    async function liveSubscription(lead: TestAgent, member: TestAgent, teamId: string) {
      const after = await currentCursor(member, teamId);
      const sub = member.subscribe(transport, EVENTS, { t: teamId, after });
      // An event the member is sure to see proves the subscription passed its checks.
      await lead.ok(UPDATE, { t: teamId, input: { description: `ping ${after}` } });
      expect((await sub.next()).data?.teamEvents).toMatchObject({ kind: "team.updated" });
      return sub;
    }

    it("when removed: gets team.member_removed, then the subscription completes", async () => {
      const lead = await newAgent("lead");
      const member = await newAgent("member");
      const teamId = await createTeam(lead, "Ejection", [[member, "coder"]]);
      const leadSub = lead.subscribe(transport, EVENTS, { t: teamId, after: await currentCursor(lead, teamId) });
      const sub = await liveSubscription(lead, member, teamId);
      try {
        await lead.ok(REMOVE, { t: teamId, a: member.id });
        const removed = await sub.next();
        expect(removed.data?.teamEvents).toMatchObject({ kind: "team.member_removed", actor: { name: lead.name }, subjectId: member.id });
        await within(sub.done, 5_000, "the removed member's subscription completing");
        await expect(sub.next(100)).rejects.toThrow(/subscription ended/);

        // Later events are not sent to the removed member, but the lead still gets them.
        await lead.ok(UPDATE, { t: teamId, input: { description: "after the removal" } });
        const leadKinds = [];
        for (let i = 0; i < 3; i++) leadKinds.push((await leadSub.next()).data?.teamEvents.kind);
        expect(leadKinds).toEqual(["team.updated", "team.member_removed", "team.updated"]);

        expect((await member.fails(TEAM, { id: teamId })).code).toBe("NOT_FOUND");
        const again = await subscribeOnce(member, transport, teamId);
        expect(again.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
        expect(again.errors?.[0]?.message).toBe("team not found");
      } finally {
        await sub.close();
        await leadSub.close();
      }
    });

    it("when leaving: gets team.member_left, then the subscription completes", async () => {
      const lead = await newAgent("lead");
      const member = await newAgent("member");
      const teamId = await createTeam(lead, "Exit", [[member, "coder"]]);
      const sub = await liveSubscription(lead, member, teamId);
      try {
        await member.ok(LEAVE, { t: teamId });
        const left = await sub.next();
        expect(left.data?.teamEvents).toMatchObject({ kind: "team.member_left", actor: { name: member.name }, subjectId: member.id });
        await within(sub.done, 5_000, "the leaving member's subscription completing");
        expect((await member.fails(TEAM, { id: teamId })).code).toBe("NOT_FOUND");
        const again = await subscribeOnce(member, transport, teamId);
        expect(again.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      } finally {
        await sub.close();
      }
    });

    it("when removed while filtering other kinds: the subscription still completes", async () => {
      const lead = await newAgent("lead");
      const member = await newAgent("member");
      const teamId = await createTeam(lead, "Filtered", [[member, "coder"]]);
      const sub = member.subscribe(transport, EVENTS, { t: teamId, after: await currentCursor(member, teamId), kinds: ["team.updated"] });
      try {
        await lead.ok(UPDATE, { t: teamId, input: { description: "ping" } });
        expect((await sub.next()).data?.teamEvents).toMatchObject({ kind: "team.updated" });
        await lead.ok(REMOVE, { t: teamId, a: member.id });
        await within(sub.done, 5_000, "the filtered subscription completing");
        await expect(sub.next(100)).rejects.toThrow(/subscription ended/);
      } finally {
        await sub.close();
      }
    });
  });
});
