#!/usr/bin/env python3
"""Story 3, the task API for agent code, written as most agent code is: Python with only its
standard library. No WebSocket: an agent that waits calls `awaitEvents`, which answers as
soon as something concerning it happens after its cursor (or, when its timeout passes, with
no events and the same cursor), so it never polls.

An orchestrator creates tasks (title, description, priority, assignee, status, free JSON
metadata) and tells the researcher by direct message; the researcher, waiting on its inbox,
updates status, progress and notes and attaches findings; the analyst, waiting on the team's
finding events, reads them from the task. Tasks are listed by assignee and status.

    HQ_URL=http://localhost:4000/graphql python3 examples/task_api.py
"""
import json
import os
import secrets
import sys
import urllib.error
import urllib.request

HQ_URL = os.environ.get("HQ_URL", "http://localhost:4000/graphql")


class HqError(Exception):
    """A refusal from the server; `code` is its stable extensions.code."""

    def __init__(self, code, message, extensions):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.extensions = extensions


def request(query, variables=None, token=None):
    """One GraphQL request over HTTP: returns `data`, or raises the first error."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(HQ_URL, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        answer = json.load(error)  # refusals are JSON too, with a code
    if answer.get("errors"):
        first = answer["errors"][0]
        extensions = first.get("extensions", {})
        raise HqError(extensions.get("code", "ERROR"), first["message"], extensions)
    return answer["data"]


AWAIT_EVENTS = """query($after: Int, $kinds: [String!], $timeout: Int) {
  awaitEvents(after: $after, teamKinds: $kinds, timeoutSeconds: $timeout) {
    cursor events { cursor kind subjectId payload actor { name } }
  }
}"""


class Agent:
    def __init__(self, name, token):
        self.name = name
        self.token = token
        self.cursor = None  # None: from now on; then the cursor of the last answer

    @classmethod
    def register(cls, role, description):
        # Names are unique and data persists: a suffix lets the example run again.
        name = f"{role}-{secrets.token_hex(3)}"
        data = request(
            "mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token } }",
            {"input": {"name": name, "description": description}},
        )
        return cls(name, data["registerAgent"]["token"])

    def request(self, query, variables=None):
        return request(query, variables, self.token)

    def say(self, text):
        print(f"[{self.name}] {text}", flush=True)

    def start_waiting(self):
        """Take the journal's current position: what happens from here on concerns the next wait."""
        self.cursor = self.request(AWAIT_EVENTS, {"timeout": 0})["awaitEvents"]["cursor"]

    def wait(self, kinds=None, timeout=20):
        """Events concerning me after my cursor: my inbox, and these kinds of my teams' events."""
        data = self.request(AWAIT_EVENTS, {"after": self.cursor, "kinds": kinds, "timeout": timeout})["awaitEvents"]
        self.cursor = data["cursor"]
        return data["events"]

    def wait_for(self, predicate, kinds=None, rounds=15):
        for _ in range(rounds):
            for event in self.wait(kinds):
                if predicate(event):
                    return event
        raise SystemExit(f"{self.name}: waited {rounds} rounds without the event")


def check(condition, what):
    if not condition:
        raise SystemExit(f"check failed: {what}")


CREATE_TASK = """mutation($t: ID!, $input: CreateTaskInput!) {
  createTask(teamId: $t, input: $input) { id number title status priority assignee { name } metadata }
}"""
UPDATE_TASK = """mutation($id: ID!, $input: UpdateTaskInput!) {
  updateTask(id: $id, input: $input) { task { number status progress notes } }
}"""
TEAM_TASKS = """query($t: ID!, $filter: TaskFilter) {
  team(id: $t) { tasks(first: 50, filter: $filter) { edges { node { number title status progress } } } }
}"""


def main():
    orchestrator = Agent.register("orchestrator", "splits the work")
    researcher = Agent.register("researcher", "collects prices")
    analyst = Agent.register("analyst", "reads the findings")
    researcher.start_waiting()
    analyst.start_waiting()

    team = orchestrator.request('mutation { createTeam(input: { name: "market-research", role: "orchestrator" }) { id } }')["createTeam"]["id"]
    for agent, role in ((researcher, "researcher"), (analyst, "analyst")):
        orchestrator.request(
            "mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role } }",
            {"t": team, "n": agent.name, "r": role},
        )
    orchestrator.say('created team "market-research" with the researcher and the analyst')

    def create(task_input):
        task = orchestrator.request(CREATE_TASK, {"t": team, "input": task_input})["createTask"]
        orchestrator.say(f'created #{task["number"]} "{task["title"]}": {task["status"]}, {task["priority"]}, metadata {json.dumps(task["metadata"])}')
        return task

    collect = create({
        "title": "Collect competitor prices",
        "description": "Five competitors, all public plans",
        "priority": "HIGH",
        "assignee": researcher.name,
        "status": "IN_PROGRESS",
        "metadata": {"source": "web", "competitors": ["Acme", "Globex"], "budget": {"maxPages": 50}},
    })
    create({"title": "Summarize pricing tiers", "assignee": researcher.name, "metadata": {"format": "table"}})
    create({"title": "Draft the report", "assignee": analyst.name, "status": "IN_PROGRESS", "priority": "LOW"})
    orchestrator.request(
        "mutation($to: [String!]!, $m: MessageInput!) { sendMessage(to: $to, message: $m) { id } }",
        {"to": [researcher.name], "m": {"body": f"#{collect['number']} is yours: start with Acme", "intent": "DELEGATE"}},
    )

    # The researcher waits for its orders: the message event carries the body and the sender.
    order = researcher.wait_for(lambda e: e["kind"] == "message.received")
    researcher.say(f'got a message from {order["actor"]["name"]}: "{order["payload"].get("body")}"')

    updated = researcher.request(UPDATE_TASK, {"id": collect["id"], "input": {"progress": 60, "notes": "3 of 5 sites done"}})["updateTask"]["task"]
    researcher.say(f'#{updated["number"]}: progress {updated["progress"]}, notes "{updated["notes"]}"')
    try:
        researcher.request(UPDATE_TASK, {"id": collect["id"], "input": {"progress": 120}})
        raise SystemExit("progress 120 was accepted")
    except HqError as refused:
        check(refused.code == "BAD_USER_INPUT" and refused.extensions.get("field") == "progress", "progress 120 is refused, naming the field")
        researcher.say(f"progress 120 is refused: {refused}")

    findings = [
        {"competitor": "Acme", "plans": [{"name": "Pro", "monthly": 49}, {"name": "Team", "monthly": 99}], "currency": "USD"},
        {"competitor": "Globex", "plans": [], "note": "pricing on request"},
    ]
    for data in findings:
        researcher.request("mutation($id: ID!, $data: JSONObject!) { addTaskFinding(id: $id, data: $data) { id } }", {"id": collect["id"], "data": data})
    researcher.say(f'attached {len(findings)} findings to #{collect["number"]}')
    researcher.request(UPDATE_TASK, {"id": collect["id"], "input": {"status": "COMPLETED", "progress": 100}})

    # The analyst waits for the team's finding events, then reads them from the task.
    seen = 0
    while seen < len(findings):
        seen += len([e for e in analyst.wait(kinds=["task.finding_added"]) if e["kind"] == "task.finding_added"])
    task = analyst.request("query($id: ID!) { task(id: $id) { number findings { data author { name } } } }", {"id": collect["id"]})["task"]
    check(len(task["findings"]) == len(findings), "the analyst reads every finding")
    for finding in task["findings"]:
        analyst.say(f'finding on #{task["number"]} by {finding["author"]["name"]}: {json.dumps(finding["data"])}')

    mine = orchestrator.request(TEAM_TASKS, {"t": team, "filter": {"assignee": researcher.name, "status": ["PENDING", "IN_PROGRESS"]}})
    open_tasks = [edge["node"] for edge in mine["team"]["tasks"]["edges"]]
    check([t["title"] for t in open_tasks] == ["Summarize pricing tiers"], "the researcher's open tasks")
    orchestrator.say(f"{researcher.name} still has: " + ", ".join(f'#{t["number"]} {t["title"]} ({t["status"]})' for t in open_tasks))
    print("done.")


if __name__ == "__main__":
    try:
        main()
    except urllib.error.URLError as error:
        print(f"cannot reach {HQ_URL}: {error.reason}", file=sys.stderr)
        sys.exit(1)
    except HqError as error:
        print(f"refused: {error}", file=sys.stderr)
        sys.exit(1)
