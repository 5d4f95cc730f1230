"""A client that disconnects mid-upload commits nothing: the worker's stream to the node stays
short of its fixed length, so the node discards it and the previous object stays intact."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3http import _Signer


def test_client_disconnect_mid_upload_leaves_the_old_object(raw, gateway, backend, bucket):
    raw.put(bucket, "victim", b"previous content")
    size = 8 * 1024 * 1024
    url = f"{gateway.endpoint}/{bucket}/victim"
    request = AWSRequest(method="PUT", url=url, headers={"Content-Length": str(size)}, data=b"")
    _Signer(Credentials(raw.access_key, raw.secret_key), "UNSIGNED-PAYLOAD").add_auth(request)
    target = urlsplit(gateway.endpoint)
    headers = {"Host": target.netloc, **dict(request.headers.items())}
    head = f"PUT /{bucket}/victim HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((target.hostname, target.port)) as conn:
        conn.sendall(head.encode())
        try:
            conn.sendall(b"z" * (size // 2))
        except OSError:
            conn.settimeout(2)
            raise AssertionError(f"the gateway closed the connection early: {conn.recv(2000)!r}")
        time.sleep(0.5)
    # Give the worker and the node a moment to notice the broken stream.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert backend.get(bucket, "victim") == b"previous content"
        time.sleep(0.5)
    got = raw.request("GET", f"/{bucket}/victim")
    assert got.status_code == 200 and got.content == b"previous content"
