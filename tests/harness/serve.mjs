// Serves the built worker in workerd through Miniflare 4 for the integration tests.
// Config (JSON in PORTICO_MF_CONFIG): { port, bindings: {NAME: value}, kv: [{key, value}],
// kv_persist: a directory keeping the KV namespace across workers (optional; default in memory) }.
import { Log, LogLevel, Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
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
  kvPersist: config.kv_persist ?? false,
  bindings: config.bindings,
  log: new Log(LogLevel.INFO),
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
