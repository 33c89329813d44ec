/**
 * A consumer process for the gossip tests: nsqjs's Reader with `lookupdHTTPAddresses` pointed at
 * a gossiping nsqd. Prints each message body on its own stdout line, exits 0 once `count`
 * messages arrived (or 1 after `timeoutMs`).
 *
 * Usage: deno run -A _nsqjs_consumer.ts <topic> <channel> <lookupd http addr> <count> <timeoutMs>
 */
import nsq from "nsqjs";

const [topic, channel, lookupd, countText, timeoutText] = Deno.args;
const want = Number(countText);
let got = 0;
const r = new nsq.Reader(topic, channel, {
  lookupdHTTPAddresses: [lookupd],
  lookupdPollInterval: 1,
  maxInFlight: 100,
});
const timer = setTimeout(() => {
  console.error(`timed out with ${got} of ${want}`);
  Deno.exit(1);
}, Number(timeoutText));
r.on("message", (msg: { body: Uint8Array; finish(): void }) => {
  console.log(new TextDecoder().decode(msg.body));
  msg.finish();
  if (++got === want) {
    clearTimeout(timer);
    setTimeout(() => Deno.exit(0), 50);
  }
});
r.on("nsqd_connected", (host: string, port: number) => console.error(`connected ${host}:${port}`));
r.on("error", (err: Error) => console.error(`error ${err.message}`));
r.connect();
