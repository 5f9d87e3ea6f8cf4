// Topics are dotted names inside a team (research.complete). A pattern matches them
// segment by segment: '*' is exactly one segment, '#' is zero or more (AMQP's rule).

export const TOPIC = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const TOPIC_PATTERN = /^([A-Za-z0-9_-]+|\*|#)(\.([A-Za-z0-9_-]+|\*|#))*$/;
export const TOPIC_MAX = 200;

export function topicMatches(pattern: string, topic: string): boolean {
  return matchFrom(pattern.split("."), 0, topic.split("."), 0);
}

function matchFrom(p: string[], i: number, t: string[], j: number): boolean {
  if (i === p.length) return j === t.length;
  if (p[i] === "#") {
    // '#' takes zero or more segments: try each split.
    for (let k = j; k <= t.length; k++) if (matchFrom(p, i + 1, t, k)) return true;
    return false;
  }
  if (j === t.length) return false;
  return (p[i] === "*" || p[i] === t[j]) && matchFrom(p, i + 1, t, j + 1);
}
