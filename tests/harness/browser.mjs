// Drives Debian's Chromium (headless, through playwright-core) for tests/integration/test_browser.py.
//
// Protocol, one JSON object a line: the harness prints {"ready": true, "version": ...} once the
// browser is up, then for each request read from stdin, {"id", "origin", "fn", "args"}, it opens
// (once per origin) a page at `origin + "/"`, calls `window[fn](...args)` in that page and prints
// {"id", "ok": true, "result"} or {"id", "ok": false, "error"}, with what the browser logged
// meanwhile: `console` (the page's console messages: Chromium explains blocked CORS requests
// there) and `network` (the DevTools Protocol's view of each request, preflights included: method,
// URL, request and response headers, status, and why it failed). It exits when stdin closes.
import { chromium } from "playwright-core";
import readline from "node:readline";

const executablePath = process.env.PORTICO_CHROMIUM || "/usr/bin/chromium";
// Without the background-networking flags, Chromium's own connections (updates, sync, Google's
// hosts) are refused by a closed network, many at a time. Playwright gives the browser a fresh,
// empty profile (user data dir) of its own and removes it on close.
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const browser = await chromium.launch({ executablePath, args, headless: true, timeout: 30_000 });
const context = await browser.newContext();
const pages = new Map(); // origin -> { page, console: [], network: Map }

async function pageFor(origin) {
  let entry = pages.get(origin);
  if (entry) return entry;
  const page = await context.newPage();
  entry = { page, console: [], network: new Map() };
  page.on("console", (message) => entry.console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => entry.console.push(`pageerror: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  const record = (id) => {
    if (!entry.network.has(id)) entry.network.set(id, {});
    return entry.network.get(id);
  };
  cdp.on("Network.requestWillBeSent", (e) => {
    Object.assign(record(e.requestId), {
      type: e.type,
      method: e.request.method,
      url: e.request.url,
      request_headers: e.request.headers,
    });
  });
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    // The headers as sent on the wire (Origin, Access-Control-Request-*, Range...).
    record(e.requestId).wire_request_headers = e.headers;
  });
  cdp.on("Network.responseReceived", (e) => {
    Object.assign(record(e.requestId), { status: e.response.status, response_headers: e.response.headers });
  });
  cdp.on("Network.responseReceivedExtraInfo", (e) => {
    Object.assign(record(e.requestId), { wire_status: e.statusCode, wire_response_headers: e.headers });
  });
  cdp.on("Network.loadingFailed", (e) => {
    Object.assign(record(e.requestId), {
      failed: e.errorText,
      cors_error: e.corsErrorStatus || null,
      blocked_reason: e.blockedReason || null,
    });
  });
  await cdp.send("Network.enable");
  await page.goto(`${origin}/`, { timeout: 15_000 });
  pages.set(origin, entry);
  return entry;
}

async function handle(request) {
  const entry = await pageFor(request.origin);
  entry.console.length = 0;
  entry.network.clear();
  let answer;
  try {
    const result = await entry.page.evaluate(
      ([fn, fnArgs]) => window[fn](...fnArgs),
      [request.fn, request.args || []],
    );
    answer = { ok: true, result };
  } catch (error) {
    answer = { ok: false, error: String(error && error.stack ? error.stack : error) };
  }
  // DevTools events can trail the page's promise by a moment (loadingFailed for a blocked
  // request in particular): let them arrive.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    id: request.id,
    ...answer,
    console: [...entry.console],
    network: [...entry.network.values()].filter((r) => r.url && !r.url.startsWith("data:")),
  };
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

async function shutdown(code) {
  await browser.close().catch(() => {});
  process.exit(code);
}
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => shutdown(0));

send({ ready: true, version: browser.version() });

// Requests are answered one at a time, in order.
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let request;
  try {
    request = JSON.parse(line);
    send(await handle(request));
  } catch (error) {
    send({ id: request ? request.id : null, ok: false, error: `harness: ${error && error.stack ? error.stack : error}` });
  }
}
await shutdown(0);
