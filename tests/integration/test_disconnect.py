"""A client that disconnects mid-upload commits nothing: the worker's stream to the node stays
short of its fixed length, so the node discards it and the previous object stays intact."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import pytest

import s3http
from s3http import _Signer

# Bodies over 64 KiB stream to the node; smaller ones are read whole before anything is sent.
SIZES = pytest.mark.parametrize("size", [8 * 1024 * 1024, 40_000], ids=["streamed", "whole"])


def send_half_and_disconnect(gateway, raw, bucket: str, key: str, size: int) -> None:
    """Announce `size` bytes for an UNSIGNED-PAYLOAD PUT, send half of them, and go away."""
    url = f"{gateway.endpoint}/{bucket}/{key}"
    request = AWSRequest(method="PUT", url=url, headers={"Content-Length": str(size)}, data=b"")
    _Signer(Credentials(raw.access_key, raw.secret_key), "UNSIGNED-PAYLOAD").add_auth(request)
    target = urlsplit(gateway.endpoint)
    headers = {"Host": target.netloc, **dict(request.headers.items())}
    head = f"PUT /{bucket}/{key} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((target.hostname, target.port)) as conn:
        conn.sendall(head.encode())
        try:
            conn.sendall(b"z" * (size // 2))
        except OSError:
            conn.settimeout(2)
            raise AssertionError(f"the gateway closed the connection early: {conn.recv(2000)!r}")
        time.sleep(0.5)


@SIZES
def test_client_disconnect_mid_upload_leaves_the_old_object(raw, gateway, backend, bucket, size):
    raw.put(bucket, "victim", b"previous content")
    send_half_and_disconnect(gateway, raw, bucket, "victim", size)
    # Give the worker and the node a moment to notice the broken stream.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert backend.get(bucket, "victim") == b"previous content"
        time.sleep(0.5)
    got = raw.request("GET", f"/{bucket}/victim")
    assert got.status_code == 200 and got.content == b"previous content"


@SIZES
def test_client_disconnect_mid_upload_on_an_encrypted_project(gateway, encrypted_creds, encrypted_backend, encrypted_bucket, size):
    """The encrypted upload path reads the body straight into the sealer's stage: a body that
    breaks off must still commit nothing (the last record is sealed only once the length checks)."""
    raw = s3http.Raw(gateway.endpoint, encrypted_creds["access_key_id"], encrypted_creds["secret_key"])
    assert raw.put(encrypted_bucket, "victim", b"previous content").status_code == 200
    stored = encrypted_backend.get(encrypted_bucket, "victim")
    assert stored and b"previous content" not in stored  # the node holds the records, not the text
    send_half_and_disconnect(gateway, raw, encrypted_bucket, "victim", size)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert encrypted_backend.get(encrypted_bucket, "victim") == stored
        time.sleep(0.5)
    got = raw.request("GET", f"/{encrypted_bucket}/victim")
    assert got.status_code == 200 and got.content == b"previous content"
