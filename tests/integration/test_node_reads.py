"""Object reads over fresh connections (`"read_connections": "fresh"`, README "Storage nodes").

The session's "local" node reads objects this way (conftest.py), so the whole suite exercises it;
this module checks it against the same Garage read through fetch's pool ("pooled" node), and
drives it with a scripted node on loopback: a byte-exact forwarder to Garage (to see what goes on
the wire) or canned answers (chunked bodies, bodies delimited by the connection's end, short
bodies, heads split across writes, malformed and oversized heads, closed connections)."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import statistics
import threading
import time
import uuid
from typing import NamedTuple

import pytest
import requests
import urllib3.exceptions

import s3http
import stack
from conftest import OPERATOR, SCRIPTED_NODE, SCRIPTED_NODE_PORT, SCRIPTED_READ_TIMEOUT
from s3http import assert_s3_error, describe, encode_key

KIB = 1024
MIB = 1024 * KIB
RECORD = 64 * KIB  # plaintext bytes per record of an encrypted object
# Accept-Encoding is not signed: the runtime may rewrite it before the worker sees it.
IDENTITY = {"Accept-Encoding": "identity"}

# Sizes: under Garage's inline limit, the stalling 4 KiB, around one record, a few MiB.
SIZES = [0, 1, 2 * KIB, 4 * KIB, RECORD - 1, RECORD, RECORD + 1, 3 * MIB + 17]


def data_of(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- projects and clients


def project_on(gateway, garage, node: str, tag: str) -> s3http.Raw:
    """An unencrypted project on `node` (an entry of conftest.node_entries) in the session's
    backend bucket, and a raw client with its root credential."""
    token = OPERATOR["PORTICO_ADMIN_TOKEN"]
    project = stack.create_project(gateway.endpoint, token, node, garage.bucket, unique(tag), encrypted=False)
    creds = stack.register(gateway.endpoint, project["access_grant"])
    return s3http.Raw(gateway.endpoint, creds["access_key_id"], creds["secret_key"])


@pytest.fixture(scope="module")
def pooled(gateway, garage) -> s3http.Raw:
    """The session's Garage backend bucket, read through a project on the "pooled" node: the same
    objects as the session's (fresh) project, read through fetch."""
    return project_on(gateway, garage, "pooled", "itest-pooled")


@pytest.fixture(scope="module")
def eraw(gateway, encrypted_creds):
    return s3http.Raw(gateway.endpoint, encrypted_creds["access_key_id"], encrypted_creds["secret_key"])


@pytest.fixture(scope="module")
def plain_bucket(s3, backend):
    name = unique("it-reads")
    s3.create_bucket(Bucket=name)
    yield name
    backend.remove_bucket(name)


@pytest.fixture(scope="module")
def enc_bucket(es3, encrypted_backend):
    name = unique("enc-reads")
    es3.create_bucket(Bucket=name)
    yield name
    encrypted_backend.remove_bucket(name)


class Side(NamedTuple):
    raw: s3http.Raw
    s3: object
    bucket: str
    encrypted: bool


@pytest.fixture(params=["plain", "encrypted"])
def side(request, raw, s3, eraw, es3, plain_bucket, enc_bucket) -> Side:
    """The unencrypted or the encrypted project (raw and boto3 clients, a bucket); both read
    through the "local" node, over fresh connections."""
    if request.param == "plain":
        return Side(raw, s3, plain_bucket, False)
    return Side(eraw, es3, enc_bucket, True)


def worker_log(gateway) -> str:
    return (gateway.workdir / "miniflare.log").read_text(errors="replace")


def worker_log_once_written(gateway, marker: str, seen_before: int) -> str:
    """The worker's log once it holds more than `seen_before` lines with `marker` (or after 10 s):
    console output reaches miniflare.log on its own path, at times after the answer it goes with."""
    deadline = time.monotonic() + 10
    while True:
        text = worker_log(gateway)
        if text.count(marker) > seen_before or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def get(raw, bucket: str, key: str, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    return raw.request("GET", f"/{bucket}/{encode_key(key)}", headers=headers, unsigned_headers=IDENTITY, **kwargs)


# ---------------------------------------------------------------- reads through Garage


def test_objects_read_back_byte_identical(side):
    raw, s3, bucket, _ = side
    for size in SIZES:
        key = unique(f"size-{size}")
        body = data_of(size, size)
        raw.put(bucket, key, body)
        r = get(raw, bucket, key)
        assert r.status_code == 200, describe(r)
        assert r.headers["content-length"] == str(size)
        assert hashlib.sha256(r.content).digest() == hashlib.sha256(body).digest(), f"size {size}"
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ContentLength"] == size
        assert got["Body"].read() == body, f"size {size} (boto3)"


RANGE_SIZE = 3 * RECORD + 1000


@pytest.mark.parametrize(
    "header,first,last",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        (f"bytes={RECORD - 6}-{RECORD + 5}", RECORD - 6, RECORD + 5),  # across a record boundary
        (f"bytes={RECORD}-{2 * RECORD - 1}", RECORD, 2 * RECORD - 1),  # exactly one record
        ("bytes=1000-", 1000, RANGE_SIZE - 1),
        ("bytes=0-", 0, RANGE_SIZE - 1),
        ("bytes=-24", RANGE_SIZE - 24, RANGE_SIZE - 1),
        ("bytes=-1", RANGE_SIZE - 1, RANGE_SIZE - 1),
        (f"bytes={RANGE_SIZE - 5}-{RANGE_SIZE + 5000}", RANGE_SIZE - 5, RANGE_SIZE - 1),  # clamped
        (f"bytes=-{RANGE_SIZE + 10}", 0, RANGE_SIZE - 1),  # suffix longer than the object
    ],
)
def test_every_range_form(side, header, first, last):
    raw, s3, bucket, _ = side
    key = f"ranged-{RANGE_SIZE}"
    body = data_of(RANGE_SIZE, 7)
    if get(raw, bucket, key, headers={"Range": "bytes=0-0"}).status_code != 206:
        raw.put(bucket, key, body)
    r = get(raw, bucket, key, headers={"Range": header})
    assert r.status_code == 206, describe(r)
    assert r.content == body[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{RANGE_SIZE}"
    assert r.headers["content-length"] == str(last - first + 1)
    got = s3.get_object(Bucket=bucket, Key=key, Range=header)
    assert got["Body"].read() == body[first : last + 1]


@pytest.mark.parametrize("header", [f"bytes={RANGE_SIZE}-", f"bytes={RANGE_SIZE + 10}-{RANGE_SIZE + 20}"])
def test_unsatisfiable_ranges_are_invalid_range(side, header):
    raw, _, bucket, _ = side
    key = unique("unsatisfiable")
    raw.put(bucket, key, data_of(RANGE_SIZE, 8))
    r = get(raw, bucket, key, headers={"Range": header})
    assert_s3_error(r, 416, "InvalidRange")
    assert r.headers.get("content-range") == f"bytes */{RANGE_SIZE}", describe(r)


def test_conditional_gets(side, pooled):
    raw, _, bucket, encrypted = side
    key = unique("conditional")
    body = data_of(4 * KIB, 11)
    raw.put(bucket, key, body)
    first = get(raw, bucket, key)
    etag = first.headers["etag"]
    assert get(raw, bucket, key, headers={"If-Match": etag}).content == body
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}):
        r = get(raw, bucket, key, headers=headers)
        assert r.status_code == 304, describe(r)
        assert r.content == b""
        assert r.headers.get("etag") == etag
        if not encrypted:
            # Whatever else the node sends with a 304 (Garage: no Last-Modified), as through fetch.
            assert_same_object_headers(r, get(pooled, bucket, key, headers=headers))
    for headers in ({"If-Match": '"other"'}, {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}):
        assert_s3_error(get(raw, bucket, key, headers=headers), 412, "PreconditionFailed")
    # A range with a condition that holds.
    r = get(raw, bucket, key, headers={"If-Match": etag, "Range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, body[10:20])


def test_missing_objects_and_buckets(side):
    raw, _, bucket, _ = side
    key = unique("missing")
    doc = assert_s3_error(get(raw, bucket, key), 404, "NoSuchKey")
    assert key in doc.get("Key", "") + doc.get("Resource", ""), doc
    assert_s3_error(get(raw, unique("no-bucket"), "k"), 404, "NoSuchBucket")


def test_get_part_number(side, pooled):
    raw, s3, bucket, encrypted = side
    key = unique("multipart")
    parts = [data_of(5 * MIB, 21), data_of(RECORD + 3, 22)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-parts")
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    total = sum(map(len, parts))
    starts = [0, len(parts[0])]
    for number, data in enumerate(parts, 1):
        r = get(raw, bucket, key, query={"partNumber": number})
        assert r.status_code == 206, describe(r)
        assert r.content == data, f"part {number}"
        first = starts[number - 1]
        assert r.headers["content-range"] == f"bytes {first}-{first + len(data) - 1}/{total}"
        assert r.headers.get("x-amz-mp-parts-count") == "2"
        if not encrypted:
            # The same answer through fetch's pool.
            p = get(pooled, bucket, key, query={"partNumber": number})
            assert p.content == r.content
            assert_same_object_headers(r, p)


# Headers that describe the object: the same whichever way the node's answer arrived.
OBJECT_HEADERS = [
    "etag",
    "last-modified",
    "content-type",
    "content-length",
    "content-range",
    "cache-control",
    "content-disposition",
    "content-language",
    "content-encoding",
    "expires",
    "accept-ranges",
    "x-amz-mp-parts-count",
]


def assert_same_object_headers(fresh: requests.Response, reference: requests.Response):
    names = OBJECT_HEADERS + sorted(
        {n.lower() for n in [*fresh.headers, *reference.headers] if n.lower().startswith("x-amz-meta-")}
    )
    for name in names:
        assert fresh.headers.get(name) == reference.headers.get(name), (
            f"{name}: fresh {fresh.headers.get(name)!r}, reference {reference.headers.get(name)!r}\n"
            f"{describe(fresh)}\n{describe(reference)}"
        )


OBJECT_PUT_HEADERS = {
    "Content-Type": "text/x-portico; charset=utf-8",
    "Cache-Control": "max-age=60",
    "Content-Disposition": 'attachment; filename="a b.txt"',
    "Content-Language": "en",
    "x-amz-meta-colour": "blue",
    "x-amz-meta-Mixed-Case": "Value With  Spaces",
}


def test_headers_match_a_pooled_node(raw, plain_bucket, pooled):
    """Unencrypted: the same object read by the fresh project and by a project on the "pooled"
    node (same Garage, same backend bucket) carries the same headers."""
    key = unique("headers")
    body = data_of(4 * KIB, 31)
    raw.put(plain_bucket, key, body, headers=OBJECT_PUT_HEADERS)
    for headers, query in [
        ({}, None),
        ({"Range": "bytes=100-299"}, None),
        ({"Range": "bytes=-10"}, None),
        ({}, {"response-content-type": "application/x-override", "response-cache-control": "no-store"}),
    ]:
        fresh = get(raw, plain_bucket, key, headers=headers, query=query)
        reference = get(pooled, plain_bucket, key, headers=headers, query=query)
        assert fresh.status_code == reference.status_code, describe(fresh)
        assert fresh.content == reference.content
        assert_same_object_headers(fresh, reference)
    assert fresh.headers["content-type"] == "application/x-override"
    assert fresh.headers["x-amz-meta-colour"] == "blue"
    # And as HEAD (always through fetch) reports them.
    head = raw.request("HEAD", f"/{plain_bucket}/{encode_key(key)}")
    plain_get = get(raw, plain_bucket, key)
    for name in ["etag", "last-modified", "content-type", "content-length", "x-amz-meta-colour"]:
        assert plain_get.headers.get(name) == head.headers.get(name), name


def test_encrypted_headers_match_head(eraw, enc_bucket):
    """Encrypted: a GET (fresh connection) and a HEAD (fetch) of the same object agree."""
    key = unique("enc-headers")
    body = data_of(RECORD + 5, 32)
    eraw.put(enc_bucket, key, body, headers=OBJECT_PUT_HEADERS)
    fresh = get(eraw, enc_bucket, key)
    head = eraw.request("HEAD", f"/{enc_bucket}/{encode_key(key)}")
    assert fresh.content == body
    for name in ["etag", "last-modified", "content-type", "content-length", "cache-control", "content-disposition"]:
        assert fresh.headers.get(name) == head.headers.get(name), name
    assert fresh.headers["x-amz-meta-colour"] == head.headers["x-amz-meta-colour"] == "blue"
    assert fresh.headers["x-amz-meta-mixed-case"] == "Value With  Spaces"
    ranged = get(eraw, enc_bucket, key, headers={"Range": f"bytes={RECORD - 2}-"})
    assert ranged.headers["content-range"] == f"bytes {RECORD - 2}-{RECORD + 4}/{RECORD + 5}"
    assert ranged.content == body[RECORD - 2 :]


@pytest.mark.parametrize("node", ["refused", "refused-pooled"])
def test_a_node_refusing_connections_is_service_unavailable(gateway, garage, node):
    """Nothing listens on the node's port: both ways of reading answer the same S3 error."""
    raw = project_on(gateway, garage, node, "itest-refused")
    marker = "fresh connection failed" if node == "refused" else "storage node request failed"
    before = worker_log(gateway).count(marker)
    r = get(raw, "any-bucket", "any-key")
    doc = assert_s3_error(r, 503, "ServiceUnavailable")
    assert "could not be reached" in doc["Message"]
    log = worker_log_once_written(gateway, marker, before)
    assert log.count(marker) > before
    assert garage.secret_key not in log


# ---------------------------------------------------------------- a scripted node


class ScriptedNode:
    """Serves the "scripted" node entry's port. Every connection's first request head is kept.
    A GET sent with `Connection: close` (a fresh-connection read) is answered by `script` when
    one is set, any other GET (through fetch) by `fetch_script` when one is set, a PUT by
    `put_script` when one is set (with the head and whatever of the body came with it); everything
    else is forwarded byte for byte to Garage."""

    def __init__(self, listener: socket.socket, upstream_port: int):
        self.listener = listener
        self.upstream_port = upstream_port
        self.script = None
        self.fetch_script = None
        self.put_script = None
        self.heads: list[str] = []
        self.forwarded: set[socket.socket] = set()
        self.lock = threading.Lock()
        listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                piece = conn.recv(65536)
                if not piece:
                    return
                data += piece
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            with self.lock:
                self.heads.append(head)
            lines = head.lower().split("\r\n")
            fresh = "connection: close" in lines
            script = self.script if fresh else self.fetch_script
            if script is not None and lines[0].startswith("get "):
                script(conn)
                return
            if self.put_script is not None and lines[0].startswith("put "):
                self.put_script(conn, data)
                return
            self._forward(conn, data)

    def drop_forwarded(self):
        """Close every forwarded connection: fetch's pooled connections end, so its next request
        opens a new one, whose first head this node sees."""
        with self.lock:
            for conn in self.forwarded:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _forward(self, conn: socket.socket, first: bytes):
        with self.lock:
            self.forwarded.add(conn)
        try:
            self._pump_both_ways(conn, first)
        finally:
            with self.lock:
                self.forwarded.discard(conn)

    def _pump_both_ways(self, conn: socket.socket, first: bytes):
        with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            upstream.sendall(first)

            def pump(src, dst):
                try:
                    while piece := src.recv(65536):
                        dst.sendall(piece)
                except OSError:
                    pass
                finally:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

            back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
            back.start()
            pump(conn, upstream)
            back.join(30)

    def fresh_reads(self) -> list[str]:
        with self.lock:
            return [h for h in self.heads if h.lower().startswith("get ") and "\r\nconnection: close" in h.lower()]


@pytest.fixture(scope="module")
def scripted_node(gateway, garage):
    """The node and a raw client of a project on it. The project shares the session's backend
    bucket, so with no script set it reads the session's objects."""
    node = ScriptedNode(SCRIPTED_NODE, garage.s3_port)
    raw = project_on(gateway, garage, "scripted", "itest-scripted")
    yield node, raw
    node.script = None


@pytest.fixture
def scripted(scripted_node):
    scripted_node[0].script = scripted_node[0].fetch_script = scripted_node[0].put_script = None
    yield scripted_node
    scripted_node[0].script = scripted_node[0].fetch_script = scripted_node[0].put_script = None


def send_slowly(conn: socket.socket, data: bytes, piece: int, pause: float = 0.002):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for at in range(0, len(data), piece):
        conn.sendall(data[at : at + piece])
        time.sleep(pause)


def test_each_read_is_its_own_signed_connection(scripted, raw, plain_bucket, garage):
    node, sraw = scripted
    key = unique("wire")
    body = data_of(4 * KIB, 41)
    raw.put(plain_bucket, key, body)
    before = len(node.fresh_reads())
    for _ in range(3):
        r = get(sraw, plain_bucket, key, headers={"Range": "bytes=0-"})
        assert r.status_code == 206 and r.content == body, describe(r)
    reads = node.fresh_reads()[before:]
    assert len(reads) == 3, reads
    for head in reads:
        lines = head.split("\r\n")
        assert lines[0] == f"GET /{garage.bucket}/{plain_bucket}/{key} HTTP/1.1", lines[0]
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.setdefault(name.strip().lower(), []).append(value.strip())
        assert fields["host"] == [f"127.0.0.1:{SCRIPTED_NODE_PORT}"]
        assert fields["connection"] == ["close"]
        assert fields["range"] == ["bytes=0-"]
        assert fields["authorization"][0].startswith("AWS4-HMAC-SHA256 Credential=")
        assert fields["x-amz-content-sha256"] == ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
    # A HEAD is not an object read: it goes through fetch, without Connection: close.
    heads_before = len(node.heads)
    assert sraw.request("HEAD", f"/{plain_bucket}/{key}").status_code == 200
    assert len(node.fresh_reads()) == before + 3
    assert all(not h.startswith("GET ") for h in node.heads[heads_before:])


FRESH_READ_MAX = 16 * MIB  # node::FRESH_READ_MAX_BYTES


def test_bodies_over_the_fresh_limit_are_read_through_fetch(scripted, raw, plain_bucket):
    """workerd moves a socket's bytes at more CPU than fetch's, so a fresh node reads bodies over
    16 MiB through fetch: a Range asking for more goes there at once; any other read over the
    limit is dropped after the fresh answer's head and read again through fetch. Every answer is
    the object's exact bytes, whichever way it went."""
    node, sraw = scripted
    size = FRESH_READ_MAX + 2 * MIB + 17
    key = unique("large")
    body = data_of(size, 43)
    raw.put(plain_bucket, key, body)
    cases = [
        # (Range header or None, first, last, fresh connections opened)
        (None, 0, size - 1, 1),  # the size is learned from the fresh answer's head, then fetch
        ("bytes=0-", 0, size - 1, 1),
        (f"bytes={size - FRESH_READ_MAX}-", size - FRESH_READ_MAX, size - 1, 1),  # exactly the limit
        (f"bytes={size - FRESH_READ_MAX - 1}-", size - FRESH_READ_MAX - 1, size - 1, 1),  # one over
        (f"bytes=0-{FRESH_READ_MAX - 1}", 0, FRESH_READ_MAX - 1, 1),  # the limit: fresh
        (f"bytes=0-{FRESH_READ_MAX}", 0, FRESH_READ_MAX, 0),  # one byte more: fetch at once
        (f"bytes=-{2 * MIB}", size - 2 * MIB, size - 1, 1),  # a multi-MiB suffix: fresh
        (f"bytes=-{FRESH_READ_MAX + MIB}", size - FRESH_READ_MAX - MIB, size - 1, 0),
        ("bytes=-4096", size - 4096, size - 1, 1),
        (f"bytes=100-{size + 10**12}", 100, size - 1, 0),  # clamped, but asks for more
    ]
    for header, first, last, fresh in cases:
        before = len(node.fresh_reads())
        r = get(sraw, plain_bucket, key, headers={"Range": header} if header else {})
        assert r.status_code == (206 if header else 200), f"{header}: {describe(r)}"
        assert r.headers["content-length"] == str(last - first + 1), header
        assert hashlib.sha256(r.content).digest() == hashlib.sha256(body[first : last + 1]).digest(), header
        assert len(node.fresh_reads()) - before == fresh, header


def test_a_failing_read_again_through_fetch_is_service_unavailable(scripted, gateway, garage):
    """A fresh answer's head announces a body over the limit, and the node then fails the read
    again through fetch (the connection closes unanswered): the same S3 error as any unreachable
    node, never a body cut short or a 500."""
    node, sraw = scripted
    node.script = lambda conn: conn.sendall(
        f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {FRESH_READ_MAX + MIB}\r\n"
        'ETag: "e"\r\n\r\n'.encode() + b"x" * 1000
    )
    node.fetch_script = lambda conn: None  # closed without an answer
    node.drop_forwarded()
    before = len(node.fresh_reads())
    logged_before = worker_log(gateway).count("storage node ")
    doc = assert_s3_error(get(sraw, "b", "k"), 503, "ServiceUnavailable")
    assert "could not be reached" in doc["Message"]
    assert len(node.fresh_reads()) - before == 1
    assert garage.secret_key not in worker_log_once_written(gateway, "storage node ", logged_before)


def test_a_chunked_error_document_is_decoded(scripted):
    node, sraw = scripted
    document = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code>'
        b"<Message>scripted: a message in many chunks</Message><Resource>/x</Resource></Error>"
    )

    def answer(conn):
        out = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
        for at in range(0, len(document), 13):
            piece = document[at : at + 13]
            out += f"{len(piece):X};scripted=yes\r\n".encode() + piece + b"\r\n"
        out += b"0\r\nx-trailer: ignored\r\n\r\n"
        send_slowly(conn, out, 7)

    node.script = answer
    doc = assert_s3_error(get(sraw, "b", "k"), 400, "InvalidArgument")
    assert doc["Message"] == "scripted: a message in many chunks"


def test_a_chunked_body_is_decoded(scripted):
    node, sraw = scripted
    body = data_of(300 * KIB + 7, 42)

    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-test\r\nTransfer-Encoding: chunked\r\n\r\n")
        at, sizes = 0, [1, 4095, 70000, 3, 65536]
        while at < len(body):
            size = sizes[at % len(sizes)]
            piece = body[at : at + size]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            at += len(piece)
        conn.sendall(b"0\r\n\r\n")

    node.script = answer
    r = get(sraw, "b", "k")
    assert r.status_code == 200, describe(r)
    assert r.headers["content-type"] == "application/x-test"
    assert r.content == body


def test_a_body_delimited_by_the_connections_end(scripted):
    node, sraw = scripted
    body = data_of(200 * KIB, 43)

    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-test\r\n\r\n" + body[:1000])
        send_slowly(conn, body[1000:], 50 * KIB)

    node.script = answer
    r = get(sraw, "b", "k")
    assert r.status_code == 200, describe(r)
    assert r.content == body


def test_a_head_split_across_writes_with_repeated_headers(scripted):
    node, sraw = scripted
    body = data_of(4 * KIB, 44)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nETag: \"scripted\"\r\n"
        b"x-amz-meta-twice: one\r\nX-Amz-Meta-Twice: two\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n"
    )

    def answer(conn):
        send_slowly(conn, head, 1, pause=0.0005)
        send_slowly(conn, body, 1000)

    node.script = answer
    r = get(sraw, "b", "k")
    assert r.status_code == 200, describe(r)
    assert r.content == body
    assert r.headers["etag"] == '"scripted"'
    assert r.headers["x-amz-meta-twice"] == "one, two"
    assert r.headers["last-modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"


@pytest.mark.parametrize("sent", [100 * KIB, 0])
def test_a_short_body_fails_the_clients_read(scripted, sent):
    """The node promises more than it sends: the client's body breaks off, never a short 200
    that looks complete."""
    node, sraw = scripted
    promised = 300 * KIB
    body = data_of(promised, 45)

    def answer(conn):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {promised}\r\n\r\n".encode() + body[:sent])
        time.sleep(0.05)

    node.script = answer
    try:
        r = get(sraw, "b", "k", stream=True)
    except requests.exceptions.ConnectionError:
        return  # broken off before the status line: not a success either
    assert r.status_code == 200, describe(r)
    assert r.headers["content-length"] == str(promised)
    try:
        received = r.raw.read(decode_content=False)
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError):
        return  # the body broke off, as it must
    pytest.fail(f"the body ended after {len(received)} of {promised} bytes without an error")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"", id="closed-before-answering"),
        pytest.param(b"HELLO WORLD\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n0123456789", id="bad-content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nBroken header line\r\n\r\n", id="bad-header-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * (70 * KIB) + b"\r\n\r\n", id="head-over-64-KiB"),
        pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", id="upgrade"),
        pytest.param(b"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n", id="status-out-of-range"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Len", id="head-cut-short"),
    ],
)
def test_an_unusable_answer_is_service_unavailable(scripted, gateway, garage, answer):
    node, sraw = scripted
    node.script = lambda conn: conn.sendall(answer)
    logged_before = worker_log(gateway).count("storage node ")
    doc = assert_s3_error(get(sraw, "b", "k"), 503, "ServiceUnavailable")
    assert "could not be reached" in doc["Message"]
    assert garage.secret_key not in worker_log_once_written(gateway, "storage node ", logged_before)


def test_not_modified_and_no_content_have_no_body(scripted):
    node, sraw = scripted
    node.script = lambda conn: conn.sendall(
        b'HTTP/1.1 304 Not Modified\r\nETag: "e"\r\nContent-Length: 99\r\n\r\n'
    )
    r = get(sraw, "b", "k", headers={"If-None-Match": '"e"'})
    assert r.status_code == 304, describe(r)
    assert r.content == b""
    assert r.headers["etag"] == '"e"'


# ---------------------------------------------------------------- latency, printed only


def test_small_read_latency_fresh_and_pooled(raw, plain_bucket, pooled):
    """Sequential 4 KiB GETs through the fresh project and the pooled one (same object), p50 and
    p99 printed (pytest -s). No assertion on times: machines are noisy."""
    count = int(os.environ.get("NODE_READS_LATENCY_COUNT", "40"))
    key = unique("latency")
    body = data_of(4 * KIB, 51)
    raw.put(plain_bucket, key, body)
    results = {}
    for name, client in [("fresh", raw), ("pooled", pooled)]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            r = client.request("GET", f"/{plain_bucket}/{key}", unsigned_headers=IDENTITY)
            times.append((time.perf_counter() - started) * 1000)
            assert r.content == body
        times.sort()
        results[name] = (statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))])
    print(
        f"\n{count} sequential 4 KiB GETs: "
        + ", ".join(f"{name} p50 {p50:.1f} ms p99 {p99:.1f} ms" for name, (p50, p99) in results.items())
    )


# Bytes after a fresh answer's head that the gateway reads in JavaScript (node_socket.rs,
# SMALL_REST); a larger rest is piped natively.
SMALL_REST = 64 * KIB


def wait_for_eof(conn: socket.socket, timeout: float) -> float | None:
    """Seconds until the peer closed the connection (or reset it), None if it did not."""
    started = time.monotonic()
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
    except socket.timeout:
        return None
    except OSError:
        pass
    return time.monotonic() - started


@pytest.mark.parametrize("size", [4 * KIB, FRESH_READ_MAX])
def test_the_read_completes_when_the_node_keeps_the_connection_open(scripted, size):
    """A node ignoring `Connection: close` after a complete answer: the client still gets its whole
    body at once (Content-Length delimits it, not the connection's end). A small body is passed on
    in JavaScript, which closes the connection itself once the announced length is through; a
    larger one (the largest a fresh read takes, in pieces after the head) is piped natively, and
    its connection stays until the node ends it or the runtime ends the request."""
    node, sraw = scripted
    body = data_of(size, 46)
    closed_by_gateway = []

    def answer(conn):
        send_slowly(conn, f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode() + body, 256 * KIB, 0.01)
        closed_by_gateway.append(wait_for_eof(conn, 10))

    node.script = answer
    started = time.monotonic()
    r = get(sraw, "b", "k", timeout=8)
    assert r.status_code == 200 and r.content == body, describe(r)
    assert time.monotonic() - started < 5
    if size <= SMALL_REST:
        deadline = time.monotonic() + 12
        while not closed_by_gateway and time.monotonic() < deadline:
            time.sleep(0.05)
        assert closed_by_gateway and closed_by_gateway[0] is not None, "the gateway left the connection open"


def test_a_client_going_away_closes_the_connection(scripted):
    node, sraw = scripted
    size = FRESH_READ_MAX  # the largest body a fresh read takes, sent slowly
    outcome = []

    def answer(conn):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        piece = bytes(16 * KIB)
        sent = 0
        deadline = time.monotonic() + 20
        conn.settimeout(1)
        try:
            while sent < size and time.monotonic() < deadline:
                conn.sendall(piece)
                sent += len(piece)
                time.sleep(0.02)
        except OSError:
            outcome.append(("closed", sent))
            return
        outcome.append(("sent", sent))

    node.script = answer
    r = get(sraw, "b", "k", stream=True)
    assert r.status_code == 200
    assert len(r.raw.read(128 * KIB)) == 128 * KIB
    r.close()
    deadline = time.monotonic() + 25
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome and outcome[0][0] == "closed", outcome
    assert outcome[0][1] < size


# ---------------------------------------------------------------- a node that does not answer


def through(node, path: str, script, body_size: int) -> dict:
    """Set `script` for reads over `path` ("fresh", or "fetch": a Range over the fresh limit goes
    to fetch at once, over a new pooled connection); the headers the read needs."""
    if path == "fresh":
        node.script = script
        return {}
    node.fetch_script = script
    node.drop_forwarded()
    return {"Range": f"bytes=0-{body_size - 1}"}


@pytest.mark.parametrize("path", ["fresh", "fetch"])
def test_a_node_that_does_not_answer_is_service_unavailable_in_time(scripted, gateway, garage, path):
    """The node takes the request and holds on for 30 s: the client hears 503 (which S3 clients
    retry) once the node's read_timeout_seconds has passed, not when its own timeout gives up."""
    node, sraw = scripted
    headers = through(node, path, lambda conn: time.sleep(30), FRESH_READ_MAX + MIB)
    logged_before = worker_log(gateway).count("storage node ")
    started = time.monotonic()
    doc = assert_s3_error(get(sraw, "b", "k", headers=headers, timeout=60), 503, "ServiceUnavailable")
    waited = time.monotonic() - started
    assert SCRIPTED_READ_TIMEOUT <= waited + 0.5, waited
    assert waited < 20, waited
    assert "Please retry" in doc["Message"]
    assert garage.secret_key not in worker_log_once_written(gateway, "storage node ", logged_before)


def test_a_node_that_does_not_answer_a_small_put_is_service_unavailable_in_time(scripted, gateway, garage):
    """A small PutObject body is read whole, checked, and sent as one buffer: the node has all of
    it at once and owes an answer as promptly as for a read. One that takes the whole request and
    holds on for 30 s: the client hears 503 (which S3 clients retry) once read_timeout_seconds has
    passed. The same PUT then succeeds against the node itself."""
    node, sraw = scripted
    bucket, key = unique("held-put-"), "held"
    body = data_of(16 * KIB, 51)
    assert sraw.request("PUT", f"/{bucket}").status_code == 200
    # The bucket is then known to exist for a few seconds, so the scripted PUT is the first
    # request on the new connection below (no bucket check before it).
    sraw.put(bucket, key, body)
    received = []

    def hold(conn: socket.socket, data: bytes):
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
        while len(rest) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            rest += piece
        received.append(len(rest))
        time.sleep(30)

    node.put_script = hold
    node.drop_forwarded()
    logged_before = worker_log(gateway).count("storage node ")
    started = time.monotonic()
    doc = assert_s3_error(sraw.request("PUT", f"/{bucket}/{key}", body=body, timeout=60), 503, "ServiceUnavailable")
    waited = time.monotonic() - started
    assert received == [len(body)], received
    assert SCRIPTED_READ_TIMEOUT <= waited + 0.5, waited
    assert waited < 20, waited
    assert "Please retry" in doc["Message"]
    assert garage.secret_key not in worker_log_once_written(gateway, "storage node ", logged_before)
    node.put_script = None
    node.drop_forwarded()
    sraw.put(bucket, key, body)
    assert get(sraw, bucket, key).content == body


@pytest.mark.parametrize("path", ["fresh", "fetch"])
def test_a_body_slower_than_the_read_timeout_is_not_cut(scripted, path):
    """The timeout bounds the wait for the answer's head only: a body that takes longer than it
    (~4.5 s here, against 3 s) arrives whole."""
    node, sraw = scripted
    size = 300 * KIB if path == "fresh" else FRESH_READ_MAX + 1
    body = data_of(size, 47)

    def answer(conn):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        send_slowly(conn, body, size // 30 + 1, pause=0.15)

    headers = through(node, path, answer, size)
    r = get(sraw, "b", "k", headers=headers, timeout=60)
    assert r.status_code == 200, describe(r)
    assert r.content == body
