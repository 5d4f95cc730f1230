// Serves the built worker in workerd through Miniflare 4 for `make bench`: the integration tests'
// harness (tests/harness/serve.mjs, same config in PORTICO_MF_CONFIG), but with the worker on a
// socket of its own (`unsafeDirectSockets`), as a workerd deployment serves it. Miniflare's own
// socket leads through its entry worker, a second JavaScript worker per request that adds
// development conveniences (request logging, pretty errors) no deployment has: measured on a
// 4 KiB GET at one request at a time, ~0.15-0.2 ms of latency and ~0.25 ms of workerd CPU per
// request (and with request logging on, a loopback call to Node besides). Its subrequests go
// straight to the network too (scripts/bench_miniflare.mjs).
import { Log, LogLevel, Miniflare, directOutbound } from "./bench_miniflare.mjs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const config = JSON.parse(process.env.PORTICO_MF_CONFIG);

const mf = new Miniflare({
  host: "127.0.0.1",
  // Miniflare's socket (its entry worker) on any free port; clients use the direct one.
  port: 0,
  unsafeDirectSockets: [{ host: "127.0.0.1", port: config.port }],
  modules: true,
  modulesRoot: path.join(root, "build"),
  scriptPath: path.join(root, "build/index.js"),
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2026-06-01",
  cf: false,
  kvNamespaces: ["PORTICO_KV"],
  bindings: config.bindings,
  logRequests: false,
  log: new Log(LogLevel.WARN),
  // For scripts/profile_worker.py: the DevTools protocol of the worker (scripts/cpu_profile.mjs).
  ...(process.env.PORTICO_INSPECTOR_PORT ? { inspectorPort: Number(process.env.PORTICO_INSPECTOR_PORT) } : {}),
});

const url = await mf.ready;
const kv = await mf.getKVNamespace("PORTICO_KV");
for (const entry of config.kv) {
  await kv.put(entry.key, entry.value);
}
console.log(`outbound ${directOutbound ? "direct" : "through Miniflare's interceptor"}`);
console.log(`ready ${url.href}`);

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    await mf.dispose();
    process.exit(0);
  });
}
