// Builds the domain services once per process; resolvers reach them through the
// GraphQL context, tests through the app.
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Database } from "./infra/db.js";
import type { AnnouncementBus } from "./infra/pubsub.js";
import { AgentService } from "./modules/agents/agents.service.js";
import { EventService } from "./modules/events/events.service.js";
import { ContextService } from "./modules/context/context.service.js";
import { IdempotencyService } from "./modules/idempotency/idempotency.service.js";
import { Presence } from "./modules/agents/presence.js";
import { JournalTailer } from "./modules/journal/journal-tailer.js";
import { JournalService } from "./modules/journal/journal.service.js";
import { KnowledgeService } from "./modules/knowledge/knowledge.service.js";
import { MessageService } from "./modules/messages/messages.service.js";
import { ClaimService } from "./modules/tasks/claims.service.js";
import { DependencyService } from "./modules/tasks/dependencies.service.js";
import { TaskService } from "./modules/tasks/tasks.service.js";
import { TeamService } from "./modules/teams/teams.service.js";

export interface Services {
  db: Database;
  journal: JournalService;
  idempotency: IdempotencyService;
  tailer: JournalTailer;
  presence: Presence;
  agents: AgentService;
  teams: TeamService;
  tasks: TaskService;
  dependencies: DependencyService;
  claims: ClaimService;
  messages: MessageService;
  context: ContextService;
  knowledge: KnowledgeService;
  events: EventService;
}

export interface ServiceDeps {
  config: Config;
  db: Database;
  bus: AnnouncementBus;
  logger: Logger;
}

export function createServices({ config, db, bus, logger }: ServiceDeps): Services {
  const logError = (scope: string) => (error: unknown) => logger.error({ err: error }, `${scope} failed`);
  const journal = new JournalService(db, bus);
  const idempotency = new IdempotencyService(db, journal);
  const tailer = new JournalTailer(journal, bus, config.JOURNAL_POLL_MS, logError("journal tailer"));
  const presence = new Presence(db, config.PRESENCE_FLUSH_MS, logError("presence flush"));
  const agents = new AgentService(db, journal, tailer, config.AGENT_HQ_REGISTRATION_KEY, config.TOKEN_CACHE_MS, logError("token revocation watch"));
  const teams = new TeamService(db, journal, tailer, agents, idempotency);
  const messages = new MessageService(db, journal, tailer, teams, agents, idempotency);
  const dependencies = new DependencyService(db, journal, teams, messages, agents);
  const tasks = new TaskService(db, journal, teams, messages, idempotency, agents, dependencies);
  const claims = new ClaimService(db, journal, teams, tasks, agents);
  const context = new ContextService(db, journal, tailer, teams, tasks, agents);
  const knowledge = new KnowledgeService(db, journal, teams, tasks, agents, idempotency);
  const events = new EventService(journal, tailer, messages, teams);
  return { db, journal, idempotency, tailer, presence, agents, teams, tasks, dependencies, claims, messages, context, knowledge, events };
}
