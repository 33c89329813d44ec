/**
 * An NSQ client for Deno, with go-nsq's production behaviour: a {@linkcode Producer} (PUB,
 * MPUB, DPUB over one connection per nsqd) and a {@linkcode Consumer} (SUB on nsqd given
 * directly or discovered through nsqlookupd, max-in-flight distribution, backoff, graceful
 * stop). TLS, snappy, deflate and AUTH are negotiated by IDENTIFY. See docs/client.md.
 *
 * ```ts
 * import { Consumer, Producer } from "./mod.ts";
 *
 * const producer = new Producer("127.0.0.1:4150");
 * await producer.publish("events", "hello");
 * await producer.stop();
 *
 * const consumer = new Consumer("events", "archive", { maxInFlight: 10 });
 * consumer.addHandler((m) => console.log(new TextDecoder().decode(m.body)));
 * await consumer.connectToNsqlookupd("127.0.0.1:4161");
 * ```
 *
 * @module
 */

export {
  applyOpt,
  type BackoffStrategy,
  type ClientConfig,
  type ClientTlsConfig,
  DEFAULT_USER_AGENT,
  defaultClientConfig,
  parseOptString,
  resolveConfig,
  setOption,
} from "./config.ts";
export { type AuthResponse, IdentifyError, type IdentifyResponse } from "./conn.ts";
export {
  AlreadyConnectedError,
  buildLookupUrl,
  Consumer,
  type ConsumerStats,
  type Handler,
  type HandlerOptions,
} from "./consumer.ts";
export { Message } from "./message.ts";
export { NotConnectedError, Producer, ProducerError, StoppedError } from "./producer.ts";
export { Logger, type LogLevel } from "../internal/log.ts";
export { goLogTime, GoNsqLogger } from "./log.ts";
