// The stall probe of `make bench` (scripts/bench.py): a minimal worker in workerd (Miniflare 4,
// as the integration tests run portico) that fetches a presigned GET URL from the storage node in
// one of several ways, so the Garage small-response stall can be measured per way of fetching,
// without touching the gateway's code. Config (JSON in PORTICO_PROBE_CONFIG): { port }.
//
// Request headers: x-probe-url (the presigned node URL), x-probe-mode (below). Modes:
//   stream     fetch with the request's method, pass the body through as a stream (as portico does)
//   buffer     fetch, await arrayBuffer(), answer with the bytes
//   close      fetch with `Connection: close` (does the runtime honour it?)
//   range      fetch with `Range: bytes=0-` (another code path in the node)
//   socket     a fresh TCP connection per request (cloudflare:sockets connect()), HTTP/1.1 by hand
//   put        stream the request body to a presigned PUT URL (FixedLengthStream), answer the node's
//              response: with `stream`, the floor of what any pass-through worker costs in workerd
// (A connection kept across requests is not possible: workerd refuses I/O objects of another request.)
import { Log, LogLevel, Miniflare, directOutbound } from "./bench_miniflare.mjs";

const config = JSON.parse(process.env.PORTICO_PROBE_CONFIG || "{}");

const script = `
import { connect } from "cloudflare:sockets";

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function headEnd(buf) {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

async function rawGet(conn, url, close) {
  const u = new URL(url);
  const req = "GET " + u.pathname + u.search + " HTTP/1.1\\r\\nHost: " + u.host +
    (close ? "\\r\\nConnection: close" : "") + "\\r\\n\\r\\n";
  await conn.writer.write(enc.encode(req));
  let buf = conn.buffered || new Uint8Array(0);
  let end;
  while ((end = headEnd(buf)) < 0) {
    const { value, done } = await conn.reader.read();
    if (done) throw new Error("closed before head");
    buf = concat(buf, value);
  }
  const head = dec.decode(buf.subarray(0, end));
  const status = parseInt(head.slice(9, 12));
  const m = /\\r\\ncontent-length:\\s*(\\d+)/i.exec(head);
  const length = m ? parseInt(m[1]) : 0;
  let body = buf.subarray(end + 4);
  while (body.length < length) {
    const { value, done } = await conn.reader.read();
    if (done) throw new Error("closed mid-body");
    body = concat(body, value);
  }
  conn.buffered = body.subarray(length);
  return new Response(body.subarray(0, length), { status });
}

function open(u) {
  const socket = connect({ hostname: u.hostname, port: Number(u.port || 80) });
  return { socket, reader: socket.readable.getReader(), writer: socket.writable.getWriter(), buffered: null };
}

export default {
  async fetch(request) {
    const url = request.headers.get("x-probe-url");
    const mode = request.headers.get("x-probe-mode") || "stream";
    if (!url) return new Response("probe ready");
    if (mode === "socket") {
      const conn = open(new URL(url));
      try {
        return await rawGet(conn, url, true);
      } finally {
        conn.socket.close();
      }
    }
    if (mode === "put") {
      const length = Number(request.headers.get("content-length"));
      const { readable, writable } = new FixedLengthStream(length);
      request.body.pipeTo(writable);
      const response = await fetch(url, { method: "PUT", body: readable });
      return new Response(response.body, response);
    }
    const headers = {};
    if (mode === "close") headers["connection"] = "close";
    if (mode === "range") headers["range"] = "bytes=0-";
    const response = await fetch(url, { method: request.method, headers });
    if (mode === "buffer") {
      const bytes = await response.arrayBuffer();
      return new Response(bytes, { status: response.status });
    }
    return new Response(response.body, response);
  },
};
`;

const mf = new Miniflare({
  host: "127.0.0.1",
  // As scripts/bench_serve.mjs serves portico: on a socket of its own, not through Miniflare's
  // entry worker.
  port: 0,
  unsafeDirectSockets: [{ host: "127.0.0.1", port: config.port }],
  modules: true,
  script,
  compatibilityDate: "2026-06-01",
  cf: false,
  log: new Log(LogLevel.WARN),
});

const url = await mf.ready;
console.log(`outbound ${directOutbound ? "direct" : "through Miniflare's interceptor"}`);
console.log(`ready ${url.href}`);

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    await mf.dispose();
    process.exit(0);
  });
}
