// Story 5, a blackboard and a knowledge base. A researcher writes findings on the team's
// blackboard (shared context); a reviewer, waiting on the context's events, reads them back
// by key (value, author, time) and by pattern, and corrects one with compare-and-set. Then
// both add knowledge entries with tags, search them by text and list what is recent.
//
//   HQ_URL=http://localhost:4000/graphql node --import tsx examples/blackboard-and-knowledge.ts
import { Agent, check, main, waitFor } from "./hq-client.js";

const ENTRY = `key value version updatedAt author { name }`;
const SET = `mutation($t: ID!, $key: String!, $value: JSON!, $expected: Int) { setContext(scope: { teamId: $t }, key: $key, value: $value, expectedVersion: $expected) { ${ENTRY} } }`;
const GET = `query($t: ID!, $key: String!) { context(scope: { teamId: $t }, key: $key) { ${ENTRY} } }`;
const ADD_KNOWLEDGE = `mutation($t: ID!, $input: AddKnowledgeInput!) { addKnowledge(teamId: $t, input: $input) { title tags } }`;

main(async () => {
  const lead = await Agent.register("lead");
  const ada = await Agent.register("ada", "researches competitors");
  const linus = await Agent.register("linus", "reviews findings");
  const { createTeam: team } = await lead.request(`mutation { createTeam(input: { name: "competitive-intel", role: "lead" }) { id } }`);
  for (const [agent, role] of [[ada, "researcher"], [linus, "reviewer"]] as const) {
    await lead.request(`mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role } }`, { t: team.id, n: agent.name, r: role });
  }
  lead.say("created team competitive-intel with ada (researcher) and linus (reviewer)");

  // Linus watches the blackboard's findings.* keys, from the start.
  const changes = linus.subscribe(`subscription($t: ID!) { contextEvents(scope: { teamId: $t }, prefix: "findings.", after: 0) { cursor kind subjectId payload actor { name } } }`, {
    t: team.id,
  });

  const findings = {
    "findings.acme": { description: "Acme: Pro at $49 and Team at $99 a month", source: "https://acme.example/pricing", confidence: 0.9 },
    "findings.globex": { description: "Globex publishes no prices; sales quotes on request", confidence: 0.6 },
    "findings.initech": { description: "Initech has a free tier up to 3 seats", confidence: 0.8 },
  };
  for (const [key, value] of Object.entries(findings)) await ada.request(SET, { t: team.id, key, value });
  ada.say(`wrote ${Object.keys(findings).join(", ")}`);

  await waitFor(changes, (e) => e.payload.key === "findings.initech");
  changes.close();
  const { context: acme } = await linus.request(GET, { t: team.id, key: "findings.acme" });
  linus.say(`read findings.acme: "${acme.value.description}" by ${acme.author.name} at ${acme.updatedAt} (version ${acme.version})`);
  check(acme.author.name === ada.name && acme.version === 1, "findings.acme is ada's first version");

  const { contextEntries } = await linus.request(`query($t: ID!) { contextEntries(scope: { teamId: $t }, pattern: "findings.*") { ${ENTRY} } }`, { t: team.id });
  linus.say(`findings.* holds ${contextEntries.length} keys: ${contextEntries.map((e: { key: string }) => e.key).join(", ")}`);
  check(contextEntries.length === 3, "three findings match findings.*");

  // A correction is compare-and-set: Linus writes on the version he read; Ada's write on the
  // version she still holds is refused instead of silently overwriting his.
  await linus.request(SET, { t: team.id, key: "findings.acme", value: { ...acme.value, description: "Acme: Pro $49, Team $89 a month (annual billing)" }, expected: acme.version });
  linus.say("corrected findings.acme on version 1 → version 2");
  const stale = await ada.refused(SET, { t: team.id, key: "findings.acme", value: { ...acme.value, confidence: 0.95 }, expected: 1 });
  check(stale.code === "CONFLICT" && stale.extensions.currentVersion === 2, "a write on a stale version is a CONFLICT");
  ada.say(`wrote on version 1 too: ${stale.message}`);

  // ---- knowledge -------------------------------------------------------------------------
  for (const input of [
    { title: "Claiming tasks with leases", body: "Take a task with a lease of a few minutes and renew it while working.", tags: ["leases", "coordination"] },
    { title: "Acme pricing tiers", body: "Acme claims its Team plan is the cheapest per seat: $89 a month with annual billing.", tags: ["pricing", "acme"] },
    { title: "Globex pricing", body: "Globex shows no public prices; its sales team quotes on request.", tags: ["pricing", "globex"] },
  ]) {
    const { addKnowledge } = await ada.request(ADD_KNOWLEDGE, { t: team.id, input });
    ada.say(`added knowledge "${addKnowledge.title}" [${addKnowledge.tags.join(", ")}]`);
  }
  const { addKnowledge: initech } = await linus.request(ADD_KNOWLEDGE, {
    t: team.id,
    input: { title: "Initech free tier", body: "Initech's free tier stops at 3 seats; the next plan is $12 a seat.", tags: ["pricing", "initech"] },
  });
  linus.say(`added knowledge "${initech.title}" [${initech.tags.join(", ")}]`);

  const { searchKnowledge } = await linus.request(`query($t: ID!) { searchKnowledge(teamId: $t, text: "claims") { entry { title } } }`, { t: team.id });
  linus.say(`search "claims", best first: ${searchKnowledge.map((h: { entry: { title: string } }, i: number) => `${i + 1}. ${h.entry.title}`).join("  ")}`);
  check(searchKnowledge[0]?.entry.title === "Claiming tasks with leases", "a title match ranks first, and 'claims' finds 'claiming'");

  const { searchKnowledge: tagged } = await linus.request(`query($t: ID!) { searchKnowledge(teamId: $t, text: "pricing", tags: ["acme"]) { entry { title } } }`, { t: team.id });
  linus.say(`search "pricing" tagged acme: ${tagged.map((h: { entry: { title: string } }) => h.entry.title).join("; ")}`);
  check(tagged.length === 1, "one pricing entry is tagged acme");

  const { recentKnowledge } = await ada.request(`query($t: ID!) { recentKnowledge(teamId: $t, first: 3) { edges { node { title createdAt author { name } } } } }`, { t: team.id });
  ada.say("what is recent:");
  for (const { node } of recentKnowledge.edges) console.log(`    ${node.createdAt}  ${node.title} (${node.author.name})`);
  check(recentKnowledge.edges[0]?.node.title === "Initech free tier", "the newest entry comes first");
});
