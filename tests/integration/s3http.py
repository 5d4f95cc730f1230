"""Raw S3 requests for the integration tests: SigV4 signing with botocore's own signer (so the
signature is what a real client computes), sent with `requests` so every status, header and byte
of the answer can be checked, including error documents that boto3 would hide.

Signing options cover the failure cases the tests need: a wrong secret, an unknown key, a clock
shifted by some minutes, a payload hash of another body, UNSIGNED-PAYLOAD, and a Host header that
names a virtual-hosted bucket while the request goes to 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import time as _time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import botocore.auth
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5_etag(data: bytes) -> str:
    """The ETag S3 gives a single-part, unencrypted object: the quoted MD5 of its bytes."""
    return '"' + hashlib.md5(data).hexdigest() + '"'


def content_md5(data: bytes) -> str:
    """A Content-MD5 header value: the base64 MD5 of the bytes."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def encode_key(key: str) -> str:
    """A key as a request path segment, the way SigV4 canonicalizes it (S3: '/' kept)."""
    return quote(key, safe="/~")


def encode_query(params: dict | list | None) -> str:
    """Query string with SigV4 encoding; a value of None gives a bare `name` (e.g. `?acl`)."""
    if not params:
        return ""
    items = params.items() if isinstance(params, dict) else params
    parts = []
    for name, value in items:
        if value is None:
            parts.append(quote(name, safe="-_.~"))
        else:
            parts.append(f"{quote(name, safe='-_.~')}={quote(str(value), safe='-_.~')}")
    return "&".join(parts)


class _Signer(S3SigV4Auth):
    """botocore's S3 SigV4 signer with the payload hash chosen by the caller."""

    def __init__(self, credentials, payload_hash: str | None, region: str = REGION):
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash

    def payload(self, request):
        if self._payload_hash is not None:
            return self._payload_hash
        return super().payload(request)


class _ShiftedTime:
    """Stands in for the `time` module inside botocore.auth, with time() moved by an offset."""

    def __init__(self, offset_seconds: float):
        self._offset = offset_seconds

    def time(self):
        return _time.time() + self._offset

    def __getattr__(self, name):
        return getattr(_time, name)


@contextmanager
def shifted_clock(offset: datetime.timedelta | None):
    """Make botocore's signers believe the time is now + offset: SigV4 headers and presigned
    URLs (get_current_datetime), SigV2 presigned URLs (time.time) and SigV2 headers (formatdate)."""
    if not offset:
        yield
        return
    original_now = botocore.auth.get_current_datetime
    original_formatdate = botocore.auth.formatdate
    original_time = botocore.auth.time
    seconds = offset.total_seconds()

    def shifted_now(*args, **kwargs):
        return original_now(*args, **kwargs) + offset

    def shifted_formatdate(timeval=None, *args, **kwargs):
        # An explicit time is already shifted (it comes from the shifted SigV4 timestamp).
        return original_formatdate(_time.time() + seconds if timeval is None else timeval, *args, **kwargs)

    botocore.auth.get_current_datetime = shifted_now
    botocore.auth.formatdate = shifted_formatdate
    botocore.auth.time = _ShiftedTime(seconds)
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = original_now
        botocore.auth.formatdate = original_formatdate
        botocore.auth.time = original_time


@dataclass
class Raw:
    """Sends raw, optionally signed, requests to the gateway."""

    endpoint: str  # http://127.0.0.1:<port>
    access_key: str
    secret_key: str

    @property
    def netloc(self) -> str:
        return urlsplit(self.endpoint).netloc

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict | list | None = None,
        headers: dict | None = None,
        body: bytes = b"",
        send_body: bytes | None = None,
        host: str | None = None,
        sign: bool = True,
        access_key: str | None = None,
        secret_key: str | None = None,
        payload_hash: str | None = None,
        clock_offset: datetime.timedelta | None = None,
        region: str = REGION,
        unsigned_headers: dict | None = None,
        stream: bool = False,
        timeout: float = 60,
    ) -> requests.Response:
        """`path` is the already-encoded request path (use `encode_key`). `host` replaces the Host
        header (and the host name signed) while the request still goes to the gateway's address.
        `send_body`, when given, is sent instead of the signed `body` (same length or not), and
        `unsigned_headers` are added after signing (they replace signed ones of the same name)."""
        qs = encode_query(query)
        signed_host = host or self.netloc
        url_signed = f"http://{signed_host}{path}" + (f"?{qs}" if qs else "")
        headers = dict(headers or {})
        if host is not None:
            headers["Host"] = host  # signed as given (case and port included)
        if sign:
            credentials = Credentials(access_key or self.access_key, secret_key or self.secret_key)
            aws_request = AWSRequest(method=method, url=url_signed, headers=headers, data=body)
            with shifted_clock(clock_offset):
                _Signer(credentials, payload_hash, region).add_auth(aws_request)
            headers = dict(aws_request.headers.items())
        if unsigned_headers:
            headers.update(unsigned_headers)
        url = f"{self.endpoint}{path}" + (f"?{qs}" if qs else "")
        data = body if send_body is None else send_body
        return requests.request(method, url, headers=headers, data=data, timeout=timeout, stream=stream)


    def put(self, bucket: str, key: str, body: bytes, headers: dict | None = None) -> requests.Response:
        """A plain signed PutObject that must succeed: for seeding test data quickly."""
        response = self.request("PUT", f"/{bucket}/{encode_key(key)}", body=body, headers=headers)
        assert response.status_code == 200, describe(response)
        return response


def parse_error(response: requests.Response) -> dict:
    """The fields of an S3 error document (no namespace on <Error>, as S3 sends it)."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError as err:
        raise AssertionError(
            f"error body is not XML ({err}): status {response.status_code}, body {response.content[:500]!r}"
        ) from None
    tag = root.tag.removeprefix(S3_NS)
    assert tag == "Error", f"root element is {root.tag!r}, not Error: {response.text[:500]}"
    return {child.tag.removeprefix(S3_NS): (child.text or "") for child in root}


def describe(response: requests.Response) -> str:
    head = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.request.method} {response.request.url} -> {response.status_code}\n{head}\n\n{response.content[:2000]!r}"


def assert_s3_error(response: requests.Response, status: int, code: str) -> dict:
    """The response is the S3 error `code` with `status`: an XML document with Code, Message and
    RequestId (matching the x-amz-request-id header)."""
    assert response.status_code == status, describe(response)
    content_type = response.headers.get("content-type", "")
    assert "xml" in content_type, f"error content-type {content_type!r}\n{describe(response)}"
    doc = parse_error(response)
    assert doc.get("Code") == code, describe(response)
    assert doc.get("Message"), f"error document without a Message\n{describe(response)}"
    assert doc.get("RequestId"), f"error document without a RequestId\n{describe(response)}"
    header_id = response.headers.get("x-amz-request-id")
    assert header_id, f"no x-amz-request-id header\n{describe(response)}"
    assert doc["RequestId"] == header_id, describe(response)
    return doc
