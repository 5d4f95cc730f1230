"""A small, fast S3 client for `make bench` (scripts/bench.py).

The client must not be the bottleneck, so it stays close to the socket:
- requests are signed ahead of time with the integration tests' signer (tests/integration/s3http.py,
  botocore's own SigV4) and replayed byte for byte (S3 accepts a signature for 15 minutes);
- HTTP/1.1 over one keep-alive TCP connection per thread (TCP_NODELAY), a minimal response parser
  (Content-Length and chunked bodies), large bodies read into one reused buffer;
- optionally TCP_QUICKACK before every read, so the client's own delayed ACKs never hold back a
  server's second write (the Garage small-response stall, see docs/BENCHMARKS.md) and what is
  measured is the server side.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import s3http  # noqa: E402  (the tests' SigV4 signer, reused)
from botocore.auth import S3SigV4QueryAuth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

REGION = s3http.REGION
UNSIGNED = s3http.UNSIGNED_PAYLOAD
EMPTY_SHA256 = s3http.sha256_hex(b"")
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)
S3_NS = s3http.S3_NS


@dataclass
class Target:
    """One S3 endpoint as the benchmark sees it: where, as whom, and which bucket and key prefix."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    prefix: str = ""

    @property
    def netloc(self) -> str:
        return urlsplit(self.endpoint).netloc

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.endpoint)
        return parts.hostname, parts.port or 80

    def path(self, key: str | None) -> str:
        if key is None:
            return f"/{self.bucket}"
        return f"/{self.bucket}/{s3http.encode_key(self.prefix + key)}"

    def sign(
        self,
        method: str,
        key: str | None = None,
        query: dict | list | None = None,
        headers: dict | None = None,
        payload_hash: str = EMPTY_SHA256,
        content_length: int | None = None,
    ) -> bytes:
        """The request head (request line and headers, ending in a blank line), signed now."""
        path = self.path(key)
        qs = s3http.encode_query(query)
        target = path + (f"?{qs}" if qs else "")
        request = AWSRequest(method=method, url=f"http://{self.netloc}{target}", headers=dict(headers or {}), data=b"")
        s3http._Signer(Credentials(self.access_key, self.secret_key), payload_hash, REGION).add_auth(request)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.netloc}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        if content_length is not None:
            lines.append(f"Content-Length: {content_length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def presign_get(self, key: str | None, expires: int = 900, method: str = "GET", query: dict | None = None) -> str:
        """A presigned URL (query-string SigV4, UNSIGNED-PAYLOAD), for probes that cannot sign."""
        qs = s3http.encode_query(query)
        url = f"http://{self.netloc}{self.path(key)}" + (f"?{qs}" if qs else "")
        request = AWSRequest(method=method, url=url)
        S3SigV4QueryAuth(Credentials(self.access_key, self.secret_key), "s3", REGION, expires=expires).add_auth(request)
        return request.url


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes  # kept only up to `keep` bytes
    length: int  # body bytes received
    t_head: float  # seconds from start of send to the end of the response head
    t_first: float  # ... to the first body byte (== t_head when there is no body)
    t_end: float  # ... to the last body byte

    def xml(self):
        return ET.fromstring(self.body)

    def describe(self) -> str:
        return f"{self.status} {self.body[:300]!r}"


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, address: tuple[str, int], quickack: bool = False, timeout: float = 120):
        self.address = address
        self.quickack = quickack
        self.timeout = timeout
        self.sock = None
        self.buf = bytearray()
        self.scratch = bytearray(1 << 20)
        self.connects = 0

    def _connect(self):
        self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.connects += 1

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def _recv(self) -> bytes:
        if self.quickack:
            self.sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("connection closed by peer")
        return data

    def request(self, head: bytes, body=None, method_head: bool = False, keep: int = 1 << 20, retry: bool = True) -> Response:
        """Send head (+ body: bytes, or an iterable of buffers) and read the whole response.
        A keep-alive connection that the server closed meanwhile is reopened once."""
        if self.sock is None:
            self._connect()
        try:
            return self._request(head, body, method_head, keep)
        except (ConnectionError, BrokenPipeError, ConnectionResetError):
            self.close()
            if not retry:
                raise
            self._connect()
            return self._request(head, body, method_head, keep)

    def _request(self, head, body, method_head, keep) -> Response:
        sock = self.sock
        t0 = time.perf_counter()
        if body is None:
            sock.sendall(head)
        elif isinstance(body, (bytes, bytearray, memoryview)):
            if len(body) < 65536:
                sock.sendall(head + bytes(body))
            else:
                sock.sendall(head)
                sock.sendall(body)
        else:
            sock.sendall(head)
            for chunk in body:
                sock.sendall(chunk)
        # Response head (skipping any interim 1xx answer).
        buf = self.buf
        status = 100
        while status == 100:
            while True:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    break
                buf += self._recv()
            head_text = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            lines = head_text.split("\r\n")
            status = int(lines[0][9:12])
        t_head = time.perf_counter() - t0
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        no_body = method_head or status in (204, 304)
        kept = bytearray()
        length = 0
        t_first = t_head
        if no_body:
            pass
        elif "content-length" in headers:
            remaining = int(headers["content-length"])
            if remaining and buf:
                t_first = time.perf_counter() - t0
            take = min(len(buf), remaining)
            if take:
                kept += buf[: min(take, keep)]
                del buf[:take]
                remaining -= take
                length += take
            view = memoryview(self.scratch)
            while remaining:
                if self.quickack:
                    sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
                n = sock.recv_into(view, min(remaining, len(view)))
                if not n:
                    raise ConnectionError("connection closed mid-body")
                if length == 0:
                    t_first = time.perf_counter() - t0
                if len(kept) < keep:
                    kept += view[: min(n, keep - len(kept))]
                remaining -= n
                length += n
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in buf:
                    buf += self._recv()
                line_end = buf.find(b"\r\n")
                size = int(bytes(buf[:line_end]).split(b";")[0], 16)
                del buf[: line_end + 2]
                if size == 0:
                    while b"\r\n" not in buf:  # trailers end with an empty line
                        buf += self._recv()
                    while not buf.startswith(b"\r\n"):
                        del buf[: buf.find(b"\r\n") + 2]
                        while b"\r\n" not in buf:
                            buf += self._recv()
                    del buf[:2]
                    break
                while len(buf) < size + 2:
                    buf += self._recv()
                if length == 0:
                    t_first = time.perf_counter() - t0
                if len(kept) < keep:
                    kept += buf[: min(size, keep - len(kept))]
                length += size
                del buf[: size + 2]
        else:  # body until close
            while True:
                try:
                    data = self._recv()
                except ConnectionError:
                    break
                if length == 0:
                    t_first = time.perf_counter() - t0
                kept += data[: max(0, keep - len(kept))]
                length += len(data)
            self.close()
        t_end = time.perf_counter() - t0
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, bytes(kept), length, t_head, t_first, t_end)


# ---------------------------------------------------------------------------------------------
# Load generation for small requests


@dataclass
class CellResult:
    latencies: list  # seconds, every completed request
    errors: int
    wall: float
    client_cpu: float  # CPU seconds the client process used
    statuses: dict = field(default_factory=dict)
    connects: int = 0
    first_error: str = ""


def run_closed_loop(
    address: tuple[str, int],
    requests: list[tuple[bytes, bytes | None, bool]],
    concurrency: int,
    duration: float,
    warmup: float = 0.3,
    quickack: bool = True,
    expect_status: int = 200,
) -> CellResult:
    """`concurrency` threads, each with its own keep-alive connection, send the pre-signed
    `requests` (head, body, is_head) round robin for `duration` seconds after a warm-up."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    statuses: dict[int, int] = {}
    first_error = [""]
    lock = threading.Lock()
    start_barrier = threading.Barrier(concurrency + 1)
    state = {"measure_from": 0.0, "stop_at": 0.0}
    conns = [Conn(address, quickack=quickack) for _ in range(concurrency)]

    def worker(index: int):
        conn = conns[index]
        mine = latencies[index]
        n = len(requests)
        i = (index * 7919) % n
        start_barrier.wait()
        measure_from = state["measure_from"]
        stop_at = state["stop_at"]
        perf = time.perf_counter
        while True:
            head, body, is_head = requests[i]
            i = (i + 1) % n
            t = perf()
            if t >= stop_at:
                break
            try:
                response = conn.request(head, body, method_head=is_head, keep=4096)
            except OSError as err:
                errors[index] += 1
                conn.close()
                with lock:
                    first_error[0] = first_error[0] or repr(err)
                continue
            if t >= measure_from:
                if response.status == expect_status:
                    mine.append(response.t_end)
                else:
                    errors[index] += 1
                    with lock:
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                        first_error[0] = first_error[0] or response.describe()
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    state["measure_from"] = now + warmup
    state["stop_at"] = now + warmup + duration
    cpu0 = time.process_time()
    start_barrier.wait()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu0
    flat = [x for per in latencies for x in per]
    return CellResult(
        latencies=flat,
        errors=sum(errors),
        wall=duration,
        client_cpu=cpu,
        statuses=statuses,
        connects=sum(c.connects for c in conns),
        first_error=first_error[0],
    )


# ---------------------------------------------------------------------------------------------
# Large bodies


class PatternBody:
    """`size` bytes of pseudo-random data, unique per MiB: a 64 MiB random buffer whose every MiB
    starts with (run tag, MiB index). Garage stores blocks by content hash, so repeated blocks
    would be deduplicated and make PUTs look faster than they are."""

    CHUNK = 1 << 20

    def __init__(self, base: bytearray, size: int, tag: bytes):
        assert len(base) % self.CHUNK == 0
        self.base = base
        self.size = size
        self.tag = tag[:16].ljust(16, b"\0")

    def __len__(self):
        return self.size

    def __iter__(self):
        view = memoryview(self.base)
        base_len = len(self.base)
        sent = 0
        index = 0
        while sent < self.size:
            offset = (index * self.CHUNK) % base_len
            n = min(self.CHUNK, self.size - sent)
            self.base[offset : offset + 16] = self.tag
            self.base[offset + 16 : offset + 24] = index.to_bytes(8, "big")
            yield view[offset : offset + n]
            sent += n
            index += 1

    def sha256(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for chunk in self:
            digest.update(chunk)
        return digest.hexdigest()


def random_base(size: int = 64 << 20) -> bytearray:
    return bytearray(os.urandom(size))


def part_bodies(base: bytearray, total: int, part_size: int, tag: bytes):
    """Part bodies of a multipart upload of `total` bytes, each unique per MiB."""
    parts = []
    offset = 0
    number = 1
    while offset < total:
        size = min(part_size, total - offset)
        parts.append((number, PatternBody(base, size, tag + number.to_bytes(2, "big"))))
        offset += size
        number += 1
    return parts


def parse_upload_id(response: Response) -> str:
    root = response.xml()
    for element in root.iter():
        if element.tag.removeprefix(S3_NS) == "UploadId":
            return element.text
    raise RuntimeError(f"no UploadId in {response.describe()}")


def complete_xml(etags: list[tuple[int, str]]) -> bytes:
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in etags)
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def multipart_put(target: Target, key: str, parts, concurrency: int = 4) -> tuple[float, int]:
    """Create, upload parts with `concurrency` connections, complete. Returns (seconds, bytes)."""
    conn = Conn(target.address)
    t0 = time.perf_counter()
    response = conn.request(target.sign("POST", key, {"uploads": None}))
    if response.status != 200:
        raise RuntimeError(f"{target.name}: CreateMultipartUpload {response.describe()}")
    upload_id = parse_upload_id(response)
    etags: dict[int, str] = {}
    queue = list(parts)
    lock = threading.Lock()
    failures: list[str] = []

    def uploader():
        c = Conn(target.address)
        while True:
            with lock:
                if not queue or failures:
                    break
                number, body = queue.pop(0)
            head = target.sign(
                "PUT", key, {"partNumber": number, "uploadId": upload_id}, payload_hash=UNSIGNED, content_length=len(body)
            )
            r = c.request(head, body)
            if r.status != 200:
                with lock:
                    failures.append(f"part {number}: {r.describe()}")
                break
            with lock:
                etags[number] = r.headers["etag"]
        c.close()

    threads = [threading.Thread(target=uploader) for _ in range(min(concurrency, len(parts)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{target.name}: UploadPart {failures[0]}")
    xml = complete_xml(sorted(etags.items()))
    head = target.sign("POST", key, {"uploadId": upload_id}, payload_hash=s3http.sha256_hex(xml), content_length=len(xml))
    response = conn.request(head, xml)
    if response.status != 200 or b"<Error>" in response.body:
        raise RuntimeError(f"{target.name}: CompleteMultipartUpload {response.describe()}")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed, sum(len(body) for _, body in parts)
