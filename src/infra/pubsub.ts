// The pub/sub that carries "the journal advanced to N" between the code that commits
// and the tailers that read. In process by default; the Redis event target plugs in
// here for several instances. Only the journal module publishes.
import { createPubSub, type PubSub } from "@graphql-yoga/subscription";

export type Announcements = {
  "journal:advanced": [cursor: number];
};

export type AnnouncementBus = PubSub<Announcements>;

export function createAnnouncementBus(): AnnouncementBus {
  return createPubSub<Announcements>();
}
