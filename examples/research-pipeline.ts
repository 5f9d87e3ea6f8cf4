// Story 4, a research pipeline. A researcher, an analyst and a writer share a team context
// under a write policy: each role writes only its own keys, and a write outside them is
// refused with a clear error. The researcher publishes on topics; the analyst and the writer
// follow `reports.*`. The analyst asks the researcher a question and waits for the answer
// with a timeout; the orchestrator asks all three at once and takes the answers that come in
// time. The team's journal says who did what.
//
//   HQ_URL=http://localhost:4000/graphql node --import tsx examples/research-pipeline.ts
import { Agent, check, main } from "./hq-client.js";

const SET_CONTEXT = `mutation($t: ID!, $key: String!, $value: JSON!) { setContext(scope: { teamId: $t }, key: $key, value: $value) { key version } }`;
const ASK = `mutation($to: [String!]!, $q: String!, $timeout: Int!) {
  ask(to: $to, question: $q, timeoutSeconds: $timeout) { timedOut unanswered replies { body sender { name } } }
}`;

main(async () => {
  const orchestrator = await Agent.register("orchestrator", "runs the pipeline");
  const researcher = await Agent.register("researcher", "finds the facts");
  const analyst = await Agent.register("analyst", "makes sense of them");
  const writer = await Agent.register("writer", "writes the report");
  const { createTeam: team } = await orchestrator.request(`mutation { createTeam(input: { name: "pricing-report", role: "orchestrator" }) { id } }`);
  for (const [agent, role] of [[researcher, "researcher"], [analyst, "analyst"], [writer, "writer"]] as const) {
    await orchestrator.request(`mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role } }`, { t: team.id, n: agent.name, r: role });
  }
  orchestrator.say("created team pricing-report: a researcher, an analyst and a writer");

  // ---- a governed team context ----------------------------------------------------------
  await orchestrator.request(`mutation($t: ID!, $rules: [WriteRuleInput!]!) { setWritePolicy(teamId: $t, rules: $rules) { pattern } }`, {
    t: team.id,
    rules: [
      { role: "researcher", patterns: ["findings*"] },
      { role: "analyst", patterns: ["analysis*"] },
      { role: "writer", patterns: ["draft*"] },
    ],
  });
  orchestrator.say("write policy: researcher → findings*, analyst → analysis*, writer → draft*");

  for (const [agent, key, value] of [
    [researcher, "findings.acme", { plans: { Pro: 49, Team: 99 }, currency: "USD" }],
    [analyst, "analysis.summary", { cheapest: "Acme Pro", spread: 50 }],
    [writer, "draft.intro", "Acme leads on price; Globex does not publish its prices."],
  ] as const) {
    const { setContext } = await agent.request(SET_CONTEXT, { t: team.id, key, value });
    agent.say(`wrote ${setContext.key} (version ${setContext.version})`);
  }
  const refused = await analyst.refused(SET_CONTEXT, { t: team.id, key: "findings.acme", value: { plans: {} } });
  check(refused.code === "FORBIDDEN", "the analyst may not write the researcher's findings");
  analyst.say(`tried to overwrite findings.acme: ${refused.message}`);

  // ---- topics by pattern ----------------------------------------------------------------
  for (const agent of [analyst, writer]) {
    await agent.request(`mutation($t: ID!) { followTopic(teamId: $t, pattern: "reports.*") { pattern } }`, { t: team.id });
  }
  analyst.say("follows reports.*");
  writer.say("follows reports.*");
  const reports = writer.subscribe(`subscription($t: ID!) { topicEvents(teamId: $t, pattern: "reports.*", after: 0) { cursor kind subjectId payload actor { name } } }`, {
    t: team.id,
  });
  for (const topic of ["research.raw", "reports.pricing"]) {
    await researcher.request(`mutation($t: ID!, $topic: String!, $body: String!) { publish(teamId: $t, topic: $topic, message: { body: $body }) { id } }`, {
      t: team.id,
      topic,
      body: topic === "reports.pricing" ? "Pricing report ready: see findings.acme" : "Raw crawl of five pricing pages",
    });
    researcher.say(`published on ${topic}`);
  }
  // The writer's stream is in journal order: research.raw does not match, so the report is first.
  const report = await reports.next();
  reports.close();
  check(report.payload.topic === "reports.pricing", "the first event on reports.* is the report");
  // The event carries what the writer acts on: no second read.
  writer.say(`heard on ${report.payload.topic} from ${report.payload.from}: "${report.payload.body}"`);

  // ---- ask and wait ---------------------------------------------------------------------
  // The researcher and the analyst answer questions as they arrive; the writer is busy.
  const answering = [
    answerQuestions(researcher, (q) => (q.includes("monthly") ? "Monthly; annual billing takes 10% off." : "Yes: the findings are complete.")),
    answerQuestions(analyst, () => "Yes, after one more check of the EU prices."),
  ];

  let started = Date.now();
  const { ask: one } = await analyst.request(ASK, { to: [researcher.name], q: "Are the Acme prices monthly or annual?", timeout: 10 });
  check(!one.timedOut && one.replies[0]?.sender.name === researcher.name, "the researcher answered the analyst in time");
  analyst.say(`asked the researcher, got "${one.replies[0].body}" after ${Date.now() - started} ms`);

  started = Date.now();
  const { ask: many } = await orchestrator.request(ASK, { to: [researcher.name, analyst.name, writer.name], q: "Can the report ship today?", timeout: 2 });
  for (const r of many.replies) orchestrator.say(`  ${r.sender.name}: "${r.body}"`);
  orchestrator.say(`asked all three for 2 s: ${many.replies.length} answers in ${Date.now() - started} ms; unanswered: ${many.unanswered.join(", ")}`);
  check(many.timedOut && many.replies.length === 2 && many.unanswered.join() === writer.name, "two answered in time, the writer did not");
  for (const a of answering) await a.stop();

  // ---- the journal ----------------------------------------------------------------------
  const { team: journaled } = await orchestrator.request(`query($t: ID!) { team(id: $t) { journal(first: 100) { edges { node { cursor kind actor { name } payload } } } } }`, { t: team.id });
  type Row = { cursor: number; kind: string; actor: { name: string } | null; payload: Record<string, any> };
  const rows: Row[] = journaled.journal.edges.map((e: { node: Row }) => e.node);
  orchestrator.say(`the team's journal has ${rows.length} rows; who did what:`);
  for (const agent of [orchestrator, researcher, analyst, writer]) {
    const kinds = rows.filter((r) => r.actor?.name === agent.name).map((r) => r.kind + (r.payload.key ? ` ${r.payload.key}` : r.payload.topic ? ` ${r.payload.topic}` : ""));
    console.log(`    ${agent.name}: ${kinds.join(", ")}`);
  }
  const writes = rows.filter((r) => r.kind === "context.set").map((r) => `${r.actor?.name} ${r.payload.key}`);
  check(writes.join() === [`${researcher.name} findings.acme`, `${analyst.name} analysis.summary`, `${writer.name} draft.intro`].join(), "each role's write is journaled, the refused one is not");
});

/** Answers each question (an ASK) delivered to `agent`, until stopped. */
function answerQuestions(agent: Agent, answer: (question: string) => string) {
  const inbox = agent.subscribe(`subscription { inboxEvents(after: 0) { cursor kind subjectId payload actor { name } } }`);
  const running = (async () => {
    for await (const event of inbox) {
      if (event.kind !== "message.received" || event.payload.intent !== "ask") continue;
      const { message } = await agent.request(`query($id: ID!) { message(id: $id) { body expired } }`, { id: event.subjectId });
      if (message.expired) continue;
      agent.say(`heard the question "${message.body}" from ${event.actor?.name}; replying`);
      await agent.request(`mutation($id: ID!, $body: String!) { reply(messageId: $id, message: { body: $body }) { id } }`, { id: event.subjectId, body: answer(message.body) });
    }
  })();
  return {
    stop: async () => {
      inbox.close();
      await running;
    },
  };
}
