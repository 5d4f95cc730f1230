// A CPU profile of the worker inside workerd, through the DevTools protocol of Miniflare's
// inspector (start the harness with PORTICO_INSPECTOR_PORT set; scripts/profile_worker.py does).
// Usage: node scripts/cpu_profile.mjs <inspector port> <seconds> <out.cpuprofile>
// Prints the functions with the most self time (samples) and, for wasm, the heaviest callers.
// Build the worker with PORTICO_PROFILE=1 (scripts/build-worker.sh keeps wasm function names then).
import { writeFileSync } from "node:fs";

const [port, seconds, out] = process.argv.slice(2);
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
if (!target) throw new Error("no inspector target");
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = reject;
});
let nextId = 1;
const pending = new Map();
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.id && pending.has(message.id)) {
    pending.get(message.id)(message);
    pending.delete(message.id);
  }
};
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 100 });
await call("Profiler.start");
console.error(`profiling ${target.title ?? target.url} for ${seconds}s`);
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
const { result } = await call("Profiler.stop");
const profile = result.profile;
writeFileSync(out, JSON.stringify(profile));
ws.close();

// Self time per function (samples x interval), and the share of all samples.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
const total = profile.samples.length;
const self = new Map();
for (const [id, n] of counts) {
  const frame = byId.get(id).callFrame;
  const name = `${frame.functionName || "(anonymous)"} ${frame.url ? frame.url.split("/").pop() + ":" + frame.lineNumber : ""}`;
  self.set(name, (self.get(name) ?? 0) + n);
}
const idle = [...self].filter(([k]) => k.startsWith("(idle)")).reduce((a, [, v]) => a + v, 0);
console.log(`samples: ${total}, idle: ${((100 * idle) / total).toFixed(1)}%, busy: ${(((total - idle) * 100) / total).toFixed(1)}%`);
console.log("self time, share of busy samples:");
for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
  if (name.startsWith("(idle)")) continue;
  console.log(`${((100 * n) / (total - idle)).toFixed(1).padStart(5)}%  ${name}`);
}
// Inclusive time of each function (a function counted once per sample even when recursive).
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
for (const [id, n] of counts) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at).callFrame;
    const name = `${frame.functionName || "(anonymous)"}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + n);
  }
}
console.log("inclusive time, share of busy samples:");
for (const [name, n] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
  if (name.startsWith("(idle)") || name === "(root)") continue;
  console.log(`${((100 * n) / (total - idle)).toFixed(1).padStart(5)}%  ${name}`);
}
process.exit(0);
