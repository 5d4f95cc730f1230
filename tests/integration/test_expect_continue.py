"""Uploads sent with `Expect: 100-continue` (boto3 and the aws CLI on every PutObject and
UploadPart, curl on large bodies): the client holds its body back until the server says
`100 Continue`, or answers for good. The runtime sends `100 Continue` when the worker starts
reading the body, which portico does only once the request is authenticated and its bucket
known: an accepted upload goes ahead at once, a refused one is answered before any of its body
is sent. (workerd before 1.20261014 never sent it: every such upload waited out the client's
timer, a second for botocore and curl.)"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

import bench_client
import s3http

# Bodies over 64 KiB stream to the node; smaller ones are read whole before anything is sent.
SIZES = pytest.mark.parametrize("size", [4 * 1024 * 1024, 3000], ids=["streamed", "whole"])
# Only a gateway that never answers waits this long: every assertion below is about order.
ANSWER_WAIT_SECONDS = 20


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body


def expecting_head(gateway, bucket: str, key: str, body: bytes, secret_key: str, access_key: str) -> bytes:
    """A signed (UNSIGNED-PAYLOAD) PutObject head announcing `body` with Expect: 100-continue."""
    target = bench_client.Target("gateway", gateway.endpoint, access_key, secret_key, bucket)
    return target.sign(
        "PUT", key, headers={"Expect": "100-continue"}, payload_hash=s3http.UNSIGNED_PAYLOAD, content_length=len(body)
    )


class Connection:
    """One client connection that reads answers as they come, before or after sending a body."""

    def __init__(self, gateway):
        target = urlsplit(gateway.endpoint)
        self.sock = socket.create_connection((target.hostname, target.port), timeout=ANSWER_WAIT_SECONDS)
        self.pending = b""

    def close(self):
        self.sock.close()

    def _more(self) -> bytes:
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no answer from the gateway in {ANSWER_WAIT_SECONDS} s") from None
        return data

    def read_answer(self) -> Answer:
        """The next answer, interim (1xx, no body) or final (with its Content-Length body)."""
        while b"\r\n\r\n" not in self.pending:
            data = self._more()
            assert data, f"the gateway closed the connection without an answer: {self.pending!r}"
            self.pending += data
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        length = 0 if status < 200 else int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            data = self._more()
            assert data, "the gateway closed the connection mid-answer"
            self.pending += data
        body, self.pending = self.pending[:length], self.pending[length:]
        return Answer(status, headers, body)

    def is_closed_by_peer(self) -> bool:
        return not self.pending and self._more() == b""


@SIZES
@pytest.mark.parametrize("kind", ["plain", "encrypted"])
def test_an_accepted_upload_is_told_to_continue_before_its_body(request, gateway, kind, size):
    creds, bucket = (
        (request.getfixturevalue("creds"), request.getfixturevalue("bucket"))
        if kind == "plain"
        else (request.getfixturevalue("encrypted_creds"), request.getfixturevalue("encrypted_bucket"))
    )
    key = f"expect/{uuid.uuid4().hex}"
    body = os.urandom(size)
    conn = Connection(gateway)
    try:
        conn.sock.sendall(expecting_head(gateway, bucket, key, body, creds["secret_key"], creds["access_key_id"]))
        interim = conn.read_answer()
        assert interim.status == 100, f"{interim.status} {interim.headers} {interim.body[:300]!r}"
        conn.sock.sendall(body)
        final = conn.read_answer()
        assert final.status == 200, f"{final.status} {final.body[:500]!r}"
    finally:
        conn.close()
    raw = s3http.Raw(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    got = raw.request("GET", f"/{bucket}/{key}")
    assert got.status_code == 200 and got.content == body


@SIZES
def test_a_refused_upload_is_answered_before_its_body_is_sent(gateway, creds, bucket, backend, size):
    key = f"expect/{uuid.uuid4().hex}"
    body = os.urandom(size)
    wrong_secret = "wrong" + creds["secret_key"][5:]
    conn = Connection(gateway)
    try:
        conn.sock.sendall(expecting_head(gateway, bucket, key, body, wrong_secret, creds["access_key_id"]))
        final = conn.read_answer()
        assert final.status == 403, f"{final.status} {final.headers}"
        assert b"<Code>SignatureDoesNotMatch</Code>" in final.body, final.body[:500]
        # The body was never read: the connection cannot carry another request, and says so.
        assert final.headers.get("connection", "").lower() == "close", final.headers
        assert conn.is_closed_by_peer()
    finally:
        conn.close()
    assert backend.get(bucket, key) is None


def test_an_upload_to_a_missing_bucket_is_answered_before_its_body_is_sent(gateway, creds, backend):
    body = os.urandom(3000)
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    conn = Connection(gateway)
    try:
        conn.sock.sendall(expecting_head(gateway, missing, "k", body, creds["secret_key"], creds["access_key_id"]))
        final = conn.read_answer()
        assert final.status == 404 and b"<Code>NoSuchBucket</Code>" in final.body, f"{final.status} {final.body[:500]!r}"
    finally:
        conn.close()
    assert backend.get(missing, "k") is None
