// Miniflare for `make bench` (scripts/bench_serve.mjs, scripts/bench_stall_probe.mjs), with the
// workers' subrequests sent straight to the network, as a deployment sends them.
//
// Miniflare 4 routes every fetch() of a user worker through an "outbound interceptor", a second
// JavaScript worker per subrequest (it adds a CF-Worker header, strips CF-Connecting-IP and
// emulates cf.image transforms): a local-development convenience no deployment has, like the
// entry worker the bench already bypasses with `unsafeDirectSockets`. Measured here on a 4 KiB
// HEAD, one request at a time: ~0.1 ms of latency and ~0.1 ms of workerd CPU per node request,
// for portico and the JS pass-through worker alike. Miniflare has no option for it, so this loads
// a copy of Miniflare's bundle whose user workers' `globalOutbound` is the "internet" network
// service (what the interceptor itself forwards to). If the bundle does not contain the expected
// line (another Miniflare version), the stock Miniflare is used and `directOutbound` is false.
// The integration tests keep the stock Miniflare (tests/harness/serve.mjs).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);
const entry = require.resolve("miniflare");
const INTERCEPTED = "globalOutbound: { name: getOutboundInterceptorName(workerIndex) },";
const DIRECT = 'globalOutbound: { name: "internet" },';

function load() {
  if (process.env.PORTICO_BENCH_MINIFLARE_INTERCEPTOR === "1") return { mf: require(entry), direct: false };
  const source = fs.readFileSync(entry, "utf8");
  if (source.split(INTERCEPTED).length !== 2) return { mf: require(entry), direct: false };
  // Beside the original: the bundle finds its own files relative to its directory.
  const copy = path.join(path.dirname(entry), "index.portico-bench.js");
  const text = source.replace(INTERCEPTED, DIRECT);
  if (!fs.existsSync(copy) || fs.readFileSync(copy, "utf8") !== text) fs.writeFileSync(copy, text);
  return { mf: require(copy), direct: true };
}

const loaded = load();
export const { Miniflare, Log, LogLevel } = loaded.mf;
export const directOutbound = loaded.direct;
