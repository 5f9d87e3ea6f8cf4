// Imports every type file, then builds the schema.
import { builder } from "./builder.js";
import { answerFromReadRows } from "./loaded-relations.js";
import "../modules/agents/agents.schema.js";
import "../modules/journal/journal.schema.js";
import "../modules/teams/teams.schema.js";
import "../modules/tasks/tasks.schema.js";
import "../modules/messages/messages.schema.js";
import "../modules/context/context.schema.js";
import "../modules/knowledge/knowledge.schema.js";
import "../modules/events/events.schema.js";

export const schema = answerFromReadRows(builder.toSchema({ sortSchema: true }));
