/**
 * nsq-deno as a library: the NSQ client (Producer, Consumer). See docs/client.md.
 *
 * @module
 */
export * from "./lib/client/mod.ts";
