// The writes of a worker agent's loop in the "team at work" section: claim the next ready
// task, report progress twice, append to its dashboard, complete it (each with the claim's
// token). One source for the load generator's loops and the section's statement counts.
export const TEAM_CLAIM = `mutation($t: ID!) { claimNextTask(teamId: $t, leaseSeconds: 600) { token task { id number } } }`;
export const TEAM_PROGRESS = `mutation($id: ID!, $c: Int!, $p: Int!) { updateTask(id: $id, input: { progress: $p, claimToken: $c }) { task { id progress } } }`;
export const TEAM_APPEND = `mutation($id: ID!, $c: Int!, $text: String!) { appendTaskDashboard(id: $id, claimToken: $c, text: $text) { id } }`;
export const TEAM_COMPLETE = `mutation($id: ID!, $c: Int!) { updateTask(id: $id, input: { status: COMPLETED, claimToken: $c }) { task { id status } } }`;

/** The dashboard line a worker appends for task #n. */
export const dashboardLine = (n: number) => `#${n}: tests pass, opening the pull request`;
