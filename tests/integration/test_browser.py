"""What a real browser does with the gateway: headless Chromium (Debian's, driven through
playwright-core by tests/harness/browser.mjs) runs fetch() in a page served from another origin
than the gateway's, so every request is a cross-origin one under the browser's own CORS rules.

- A presigned PUT with a Content-Type is preflighted (an anonymous OPTIONS, found through the
  global bucket index), sent, and its ETag is readable from JS; a presigned GET brings the bytes
  back, compared in JS. Both in an unencrypted and an encrypted project.
- A page from an origin the bucket's rules do not admit cannot write (the preflight is refused,
  the PUT never sent) nor read (the answer has no Allow-Origin): fetch() rejects with
  "TypeError: Failed to fetch", and the object is unchanged.
- A ranged GET from the browser gets 206 and the right slice, Content-Range readable from JS.
- Virtual-hosted presigned URLs (`<bucket>.s3.localhost`) work as path-style ones do, and S3
  error documents are readable by the page.

What is asserted is what the browser saw: page.evaluate's return values, the page's console and
the DevTools Protocol's record of the requests (preflights included), not only server state.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import queue
import random
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

import stack
from conftest import make_client

CHROMIUM = os.environ.get("PORTICO_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = stack.ROOT / "node_modules" / "playwright-core"
HARNESS = stack.ROOT / "tests" / "harness" / "browser.mjs"
CALL_TIMEOUT = 30.0

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"Chromium (Debian package chromium) is not installed at {CHROMIUM}: see make system-deps", allow_module_level=True)
if not PLAYWRIGHT.is_dir():
    pytest.skip("playwright-core is not installed in node_modules: run npm install (make deps)", allow_module_level=True)

# The page every origin serves: the functions page.evaluate calls. Each catches its own errors and
# returns them as {error: {name, message}}, so a refused fetch is a result, not a harness failure.
# `headers` lists what JS can read of an answer: the safelisted headers and what
# Access-Control-Expose-Headers names.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>portico browser test</title>
<link rel="icon" href="data:,">
<script>
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const failure = (e) => ({ error: { name: e.name, message: e.message } });
const headersOf = (response) => Object.fromEntries(response.headers.entries());

function compare(got, expected) {
  if (got.length !== expected.length) return { same: false, firstDifference: Math.min(got.length, expected.length) };
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return { same: false, firstDifference: i };
  return { same: true, firstDifference: null };
}

async function put(url, body, contentType) {
  const response = await fetch(url, { method: "PUT", headers: { "Content-Type": contentType }, body, cache: "no-store" });
  return { status: response.status, headers: headersOf(response), etag: response.headers.get("ETag"), text: await response.text() };
}

async function get(url, expected, range) {
  const init = { cache: "no-store" };
  if (range) init.headers = { Range: range };
  const response = await fetch(url, init);
  const got = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    headers: headersOf(response),
    etag: response.headers.get("ETag"),
    contentRange: response.headers.get("Content-Range"),
    length: got.length,
    ...compare(got, expected),
    text: response.ok ? null : new TextDecoder().decode(got),
  };
}

// Upload with a presigned PUT, then download with a presigned GET and compare, all in the page.
window.roundTrip = async (putUrl, getUrl, data, contentType) => {
  const body = fromBase64(data);
  try {
    const uploaded = await put(putUrl, body, contentType);
    if (uploaded.status !== 200) return { uploaded };
    const downloaded = await get(getUrl, body, null);
    return { uploaded, downloaded, etagsAgree: uploaded.etag !== null && uploaded.etag === downloaded.etag };
  } catch (e) {
    return failure(e);
  }
};

window.putObject = async (url, data, contentType) => {
  try { return await put(url, fromBase64(data), contentType); } catch (e) { return failure(e); }
};

window.getObject = async (url, expected, range) => {
  try { return await get(url, fromBase64(expected), range); } catch (e) { return failure(e); }
};
</script>
"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origins():
    """Two web origins serving the test page, both other than the gateway's: ("app", "other")."""
    servers = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield tuple(f"http://127.0.0.1:{server.server_address[1]}" for server in servers)
    for server in servers:
        server.shutdown()
        server.server_close()


class Browser:
    """The Chromium harness process: call(origin, fn, *args) runs window[fn](...args) in a page at
    that origin and returns the harness's answer (result, console, network)."""

    def __init__(self, workdir: Path):
        self.log = workdir / "browser-harness.log"
        self.process = subprocess.Popen(
            [str(stack.NODE_BIN / "node"), str(HARNESS)],
            cwd=stack.ROOT,
            env=dict(os.environ, PORTICO_CHROMIUM=CHROMIUM),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self._next(45.0)
        if not self.ready.get("ready"):
            raise RuntimeError(f"the browser harness did not start: {self.ready}")
        self.count = 0

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no answer from the browser harness within {timeout}s\n{self.log.read_text()[-3000:]}")
        if line is None:
            raise RuntimeError(f"the browser harness exited ({self.process.poll()})\n{self.log.read_text()[-3000:]}")
        return json.loads(line)

    def call(self, origin: str, fn: str, *args) -> dict:
        self.count += 1
        request = {"id": self.count, "origin": origin, "fn": fn, "args": list(args)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._next(CALL_TIMEOUT)
        assert answer.get("id") == self.count, answer
        assert answer["ok"], f"{fn} failed in the page: {answer.get('error')}\n{describe(answer)}"
        return answer

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                stack.stop_process(self.process)


@pytest.fixture(scope="module")
def browser(workdir):
    harness = Browser(workdir)
    yield harness
    harness.close()


def describe(answer: dict) -> str:
    """What the browser saw, for assertion messages: console lines and each request's exchange."""
    lines = [f"result: {json.dumps(answer.get('result'))[:1500]}"]
    lines += [f"console {line}" for line in answer.get("console", [])]
    for r in answer.get("network", []):
        lines.append(f"{r.get('type')} {r.get('method')} {r.get('url')}")
        lines.append(f"  sent: {r.get('wire_request_headers') or r.get('request_headers')}")
        if "wire_status" in r or "status" in r:
            lines.append(f"  got {r.get('wire_status', r.get('status'))}: {r.get('wire_response_headers') or r.get('response_headers')}")
        if r.get("failed"):
            lines.append(f"  failed: {r['failed']} cors={r.get('cors_error')} blocked={r.get('blocked_reason')}")
    return "\n".join(lines)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def allow(client, bucket: str, origin: str, gateway) -> None:
    """Rules admitting `origin` for GET, PUT and HEAD with content-type and x-amz-* headers, then
    wait until the gateway answers a preflight with them (isolates cache CORS configurations for a
    few seconds)."""
    client.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["GET", "PUT", "HEAD"],
                    "AllowedHeaders": ["content-type", "x-amz-*"],
                }
            ]
        },
    )
    deadline = time.monotonic() + 15
    while True:
        response = requests.options(
            f"{gateway.endpoint}/{bucket}/probe",
            headers={"Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"},
            timeout=10,
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, f"the gateway does not answer preflights for {bucket}: {response.status_code} {response.text}"


def presigners(gateway, credentials, addressing: str = "path"):
    """(SigV4 presigner, boto3's default presigner: SigV2 query URLs for a custom endpoint).
    Virtual-hosted URLs name `<bucket>.s3.localhost:<port>` (the worker's base domain): Chromium
    resolves every `*.localhost` name to loopback itself."""
    key, secret = credentials["access_key_id"], credentials["secret_key"]
    endpoint = gateway.endpoint
    if addressing == "virtual":
        endpoint = endpoint.replace("127.0.0.1", "s3.localhost")
    return (
        make_client(endpoint, key, secret, signature_version="s3v4", addressing_style=addressing),
        make_client(endpoint, key, secret, addressing_style=addressing),
    )


def requests_to(answer: dict, url: str) -> list[dict]:
    return [r for r in answer["network"] if r.get("url") == url]


def preflights(answer: dict, url: str) -> list[dict]:
    return [r for r in requests_to(answer, url) if r.get("method") == "OPTIONS" or r.get("type") == "Preflight"]


def status_of(record: dict):
    return record.get("wire_status", record.get("status"))


@pytest.fixture(params=["plain", "encrypted"])
def target(request):
    """(credentials, bucket, boto3 client) of the unencrypted or the encrypted project."""
    if request.param == "plain":
        return request.getfixturevalue("creds"), request.getfixturevalue("bucket"), request.getfixturevalue("s3")
    return tuple(request.getfixturevalue(name) for name in ("encrypted_creds", "encrypted_bucket", "es3"))


@pytest.mark.parametrize("addressing", ["path", "virtual"])
def test_presigned_upload_and_download_from_a_page(gateway, browser, origins, target, addressing):
    credentials, bucket, client = target
    app, _ = origins
    allow(client, bucket, app, gateway)
    sigv4, default = presigners(gateway, credentials, addressing)
    key = f"uploads/{uuid.uuid4().hex[:8]} photo.bin"
    data = random.Random(7).randbytes(150_000)
    content_type = "application/octet-stream"  # not CORS-safelisted: the browser preflights the PUT
    put_url = sigv4.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": content_type}, ExpiresIn=300
    )
    get_url = default.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    if addressing == "virtual":
        assert put_url.startswith(f"http://{bucket}.s3.localhost:") and get_url.startswith(f"http://{bucket}.s3.localhost:")

    answer = browser.call(app, "roundTrip", put_url, get_url, b64(data), content_type)
    seen, why = answer["result"], describe(answer)
    assert "error" not in seen, why
    assert seen["uploaded"]["status"] == 200, why
    # The preflight really happened, anonymously, and was admitted.
    [preflight] = preflights(answer, put_url)
    assert status_of(preflight) == 200, why
    sent = {k.lower(): v for k, v in (preflight.get("wire_request_headers") or preflight["request_headers"]).items()}
    assert sent.get("access-control-request-method") == "PUT" and "authorization" not in sent, why
    assert "content-type" in sent.get("access-control-request-headers", ""), why
    # JS reads the ETag of its upload (exposed by the gateway whatever the rules say), and the
    # download brings the same bytes and the same ETag.
    head = client.head_object(Bucket=bucket, Key=key)
    assert seen["uploaded"]["etag"] == head["ETag"], why
    assert "x-amz-request-id" in seen["uploaded"]["headers"], why
    downloaded = seen["downloaded"]
    assert downloaded["status"] == 200 and downloaded["length"] == len(data), why
    assert downloaded["same"], why
    assert seen["etagsAgree"], why
    assert downloaded["headers"].get("content-type") == content_type, why
    assert head["ContentType"] == content_type and head["ContentLength"] == len(data)
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_an_origin_the_rules_do_not_admit_can_neither_write_nor_read(gateway, browser, origins, s3, creds, bucket):
    app, other = origins
    allow(s3, bucket, app, gateway)
    sigv4, _ = presigners(gateway, creds)
    key = "guarded.txt"
    original = b"written by the owner"
    s3.put_object(Bucket=bucket, Key=key, Body=original, ContentType="text/plain")
    put_url = sigv4.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "application/octet-stream"}, ExpiresIn=300
    )
    get_url = sigv4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)

    # A preflighted PUT: the gateway refuses the preflight, so the browser never sends the PUT.
    answer = browser.call(other, "putObject", put_url, b64(b"overwritten from a foreign page"), "application/octet-stream")
    seen, why = answer["result"], describe(answer)
    assert seen.get("error") == {"name": "TypeError", "message": "Failed to fetch"}, why
    assert any("blocked by CORS policy" in line for line in answer["console"]), why
    [preflight] = preflights(answer, put_url)
    assert status_of(preflight) == 403, why
    [blocked] = [r for r in requests_to(answer, put_url) if r.get("method") == "PUT"]
    assert status_of(blocked) is None and (blocked.get("cors_error") or {}).get("corsError", "").startswith("Preflight"), why

    # A simple GET needs no preflight: it reaches the gateway, but its answer does not admit the
    # origin, so the page cannot read it.
    answer = browser.call(other, "getObject", get_url, b64(original), None)
    seen, why = answer["result"], describe(answer)
    assert seen.get("error") == {"name": "TypeError", "message": "Failed to fetch"}, why
    assert any("blocked by CORS policy" in line for line in answer["console"]), why
    [refused] = requests_to(answer, get_url)
    assert status_of(refused) == 200 and refused["cors_error"]["corsError"] == "MissingAllowOriginHeader", why

    # The same URLs work from the admitted origin (so the refusals above are the origin's doing).
    # text/plain is a type the edge (Miniflare here) gzips for the browser: still the same bytes.
    answer = browser.call(app, "getObject", get_url, b64(original), None)
    assert answer["result"].get("status") == 200 and answer["result"]["same"], describe(answer)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == original
    assert head["ContentType"] == "text/plain"


def test_ranged_get_from_a_page(gateway, browser, origins, target):
    credentials, bucket, client = target
    app, _ = origins
    allow(client, bucket, app, gateway)
    sigv4, _ = presigners(gateway, credentials)
    key = "ranged.bin"
    data = random.Random(11).randbytes(200_000)
    client.put_object(Bucket=bucket, Key=key, Body=data)
    url = sigv4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)

    for range_header, first, last in [("bytes=65000-140999", 65000, 140999), ("bytes=199000-", 199000, len(data) - 1)]:
        answer = browser.call(app, "getObject", url, b64(data[first : last + 1]), range_header)
        seen, why = answer["result"], describe(answer)
        assert "error" not in seen, why
        assert seen["status"] == 206, why
        assert seen["length"] == last - first + 1 and seen["same"], why
        assert seen["contentRange"] == f"bytes {first}-{last}/{len(data)}", why
        [sent] = [r for r in requests_to(answer, url) if r.get("method") == "GET"]
        headers = {k.lower(): v for k, v in (sent.get("wire_request_headers") or sent["request_headers"]).items()}
        assert headers.get("range") == range_header, why


def test_the_page_reads_s3_errors(gateway, browser, origins, s3, creds, bucket):
    """Error answers carry the CORS headers too, so a page can tell why a request failed instead
    of seeing only "Failed to fetch"."""
    app, _ = origins
    allow(s3, bucket, app, gateway)
    sigv4, _ = presigners(gateway, creds)
    put_url = sigv4.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "k", "ContentType": "text/csv"}, ExpiresIn=300
    )
    tampered = put_url[:-1] + ("0" if put_url[-1] != "0" else "1")
    answer = browser.call(app, "putObject", tampered, b64(b"a,b\n"), "text/csv")
    seen, why = answer["result"], describe(answer)
    assert seen.get("status") == 403 and "<Code>SignatureDoesNotMatch</Code>" in seen["text"], why
    assert seen["headers"].get("x-amz-request-id"), why

    missing = sigv4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "missing"}, ExpiresIn=300)
    answer = browser.call(app, "getObject", missing, "", None)
    seen, why = answer["result"], describe(answer)
    assert seen.get("status") == 404 and "<Code>NoSuchKey</Code>" in seen["text"], why
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
