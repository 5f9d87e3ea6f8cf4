// The operations GraphiQL opens with: a newcomer's first five minutes.
export const exampleOperations = `# Welcome to agent-hq. Run these in order (pick one with the ▶ button's menu).
#
# 1. RegisterAgent needs no token. Copy the token it returns into the Headers tab:
#      { "Authorization": "Bearer ahq_..." }
# 2. Every other operation runs as that agent.
# 3. TeamEvents streams the team's journal live (open it in a second tab, then run
#    CreateTeam or AddMember in the first). Pass after: 0 to replay from the start.

mutation RegisterAgent {
  registerAgent(input: { name: "planner", description: "Plans the work" }) {
    token
    agent { id name }
  }
}

query Me {
  me { id name lastSeenAt online }
  teams(first: 10) { edges { node { id name myRole } } }
}

mutation CreateTeam {
  createTeam(input: { name: "research", description: "Finds things out", role: "lead" }) {
    id
    name
    members { role agent { name } }
  }
}

mutation AddMember($teamId: ID!) {
  addTeamMember(teamId: $teamId, agentName: "worker", role: "researcher") {
    role
    agent { name }
  }
}

query Journal($teamId: ID!) {
  team(id: $teamId) {
    journal(first: 20) { edges { node { cursor kind actor { name } payload createdAt } } }
  }
}

subscription TeamEvents($teamId: ID!) {
  teamEvents(teamId: $teamId, after: 0) { cursor kind subjectId payload actor { name } }
}
`;
