// Serves the built worker in workerd through Miniflare 4 for `make bench`: the integration tests'
// harness (tests/harness/serve.mjs, same config in PORTICO_MF_CONFIG) without Miniflare's request
// logging, which costs every request an extra loopback HTTP call from workerd to Node (measured:
// ~0.5 ms of Node CPU and ~0.3 ms of workerd CPU per request) that a deployment does not have.
import { Log, LogLevel, Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const config = JSON.parse(process.env.PORTICO_MF_CONFIG);

const mf = new Miniflare({
  host: "127.0.0.1",
  port: config.port,
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
console.log(`ready ${url.href}`);

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    await mf.dispose();
    process.exit(0);
  });
}
