/**
 * Server-side max attempts and a dead-letter topic per channel (beyond NSQ, nsqio/nsq#974 and
 * #1050; docs/beyond-nsq.md). The channel calls {@linkcode deadLetter} instead of requeueing a
 * message that has been delivered `max_attempts` times.
 *
 * @module
 */
import { isValidTopicName } from "../protocol/names.ts";
import type { Channel } from "./channel.ts";
import type { Message } from "./message.ts";

/**
 * Takes `msg` out of circulation: published to the channel's dead-letter topic (created if
 * needed, never refused by --max-topic-depth) as a new message with the original body, or
 * dropped when there is none. Either way it is counted in `deadLetterCount`.
 */
export function deadLetter(ch: Channel, msg: Message): void {
  ch.deadLetterCount++;
  const nsqd = ch.nsqd;
  const name = ch.deadLetterTopic;
  const where = `TOPIC(${ch.topic.name}): channel ${ch.name} message ${msg.id} reached ` +
    `max_attempts ${ch.maxAttempts}`;
  if (name === "") {
    nsqd.logger.warn(`${where}, dropped (no dead_letter_topic)`);
    return;
  }
  if (nsqd.signal.aborted || nsqd.isDeleting(name)) {
    nsqd.logger.error(`${where}, dropped: dead-letter topic ${name} is closing`);
    return;
  }
  try {
    const t = nsqd.getTopic(name);
    msg.compact();
    t.put(t.newMessage(msg.body));
    nsqd.logger.info(`${where}, published to dead-letter topic ${name}`);
  } catch (err) {
    nsqd.logger.error(`${where}, failed to dead-letter to ${name} - ${(err as Error).message}`);
  }
}

/**
 * The dead-letter topic a new channel of `topic` gets from --dead-letter-topic-suffix: the topic
 * name plus the suffix, unless that is not a valid topic name or the topic already is a
 * dead-letter topic (no `x.dlq.dlq` chains); "" for none.
 */
export function defaultDeadLetterTopic(topic: string, suffix: string): string {
  if (suffix === "" || topic.endsWith(suffix)) return "";
  const name = topic + suffix;
  return isValidTopicName(name) ? name : "";
}
