// What an agent may write in a message, an ask or a topic pattern, checked before any
// transaction starts.
import { z } from "zod";
import { boundedText, jsonObject } from "../../validation.js";
import { TOPIC, TOPIC_MAX, TOPIC_PATTERN } from "./topic-pattern.js";

export const INTENTS = ["ask", "inform", "delegate", "escalate", "reply", "notice"] as const;
export const MESSAGE_PRIORITIES = ["low", "normal", "high", "critical"] as const;
export const MESSAGE_KINDS = ["direct", "broadcast", "topic", "notice"] as const;
export type Intent = (typeof INTENTS)[number];
export type MessageKind = (typeof MESSAGE_KINDS)[number];
export const BODY_MAX = 20_000;
export const PAYLOAD_MAX = 65_536;
export const ASK_TIMEOUT = { min: 1, max: 300 } as const;
const MAX_RECIPIENTS = 100;

const content = {
  body: boundedText(BODY_MAX).pipe(z.string().trim().min(1, "must not be empty")),
  intent: z.enum(INTENTS).refine((i) => i !== "notice", "notice is for messages from the server").nullish(),
  priority: z.enum(MESSAGE_PRIORITIES).nullish(),
  payload: jsonObject(PAYLOAD_MAX).nullish(),
  replyToId: z.string().max(64).nullish(),
};
const recipients = z.array(z.string().max(64)).min(1, "name at least one agent").max(MAX_RECIPIENTS);
export const directInput = z.object({ ...content, to: recipients });
export const teamInput = z.object(content);
export const topicInput = z.object({ ...content, topic: z.string().max(TOPIC_MAX).regex(TOPIC, "a dotted name such as research.complete (letters, digits, '_' or '-' between dots)") });
export const askInput = z.object({
  to: recipients,
  question: content.body,
  timeoutSeconds: z
    .number()
    .int()
    .min(ASK_TIMEOUT.min, `must be between ${ASK_TIMEOUT.min} and ${ASK_TIMEOUT.max}`)
    .max(ASK_TIMEOUT.max, `must be between ${ASK_TIMEOUT.min} and ${ASK_TIMEOUT.max}`),
  priority: content.priority,
  payload: content.payload,
});
export const awaitRepliesInput = z.object({
  questionId: z.string().max(64),
  // 0 looks without waiting.
  timeoutSeconds: z
    .number()
    .int()
    .min(0, `must be between 0 and ${ASK_TIMEOUT.max}`)
    .max(ASK_TIMEOUT.max, `must be between 0 and ${ASK_TIMEOUT.max}`),
});
export const patternInput = z.object({ pattern: z.string().max(TOPIC_MAX).regex(TOPIC_PATTERN, "segments split on '.', each a name, '*' (one segment) or '#' (any number)") });

export type DirectInput = z.input<typeof directInput>;
export type TeamMessageInput = z.input<typeof teamInput>;
export type TopicInput = z.input<typeof topicInput>;
export type AskInput = z.input<typeof askInput>;
export type AwaitRepliesInput = z.input<typeof awaitRepliesInput>;
