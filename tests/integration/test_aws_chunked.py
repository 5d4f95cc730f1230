"""aws-chunked uploads (what boto3 and the aws CLI send over HTTPS): STREAMING-UNSIGNED-PAYLOAD-TRAILER
with a trailing checksum, and STREAMING-AWS4-HMAC-SHA256-PAYLOAD with per-chunk signatures. Bodies are
built here byte by byte so that the failure cases clients never send can be sent too; every failure
is followed by a read-back showing the previous object intact."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import zlib

import pytest

from s3http import assert_s3_error, describe, encode_key

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def unsigned_trailer_body(payload: bytes, chunk: int, checksum: str) -> bytes:
    out = b""
    for i in range(0, len(payload), chunk):
        piece = payload[i : i + chunk]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + f"x-amz-checksum-crc32:{checksum}\r\n\r\n".encode()


def chunked_headers(payload: bytes, encoded: bytes, **extra) -> dict:
    return {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        "Content-Length": str(len(encoded)),
        **extra,
    }


@pytest.fixture
def existing(raw, bucket):
    raw.put(bucket, "obj", b"previous content")
    return "obj"


def test_unsigned_payload_with_trailing_checksum(raw, backend, bucket):
    payload = os.urandom(200_000)
    body = unsigned_trailer_body(payload, 65_536, crc32_b64(payload))
    r = raw.request(
        "PUT",
        f"/{bucket}/{encode_key('chunked/obj')}",
        headers=chunked_headers(payload, body, **{"x-amz-trailer": "x-amz-checksum-crc32"}),
        body=body,
        payload_hash=UNSIGNED_TRAILER,
    )
    assert r.status_code == 200, describe(r)
    assert backend.get(bucket, "chunked/obj") == payload
    g = raw.request("GET", f"/{bucket}/chunked/obj", unsigned_headers={"Accept-Encoding": "identity"})
    assert g.content == payload
    # aws-chunked is a transfer detail: never stored as the object's Content-Encoding.
    assert g.headers.get("content-encoding") is None, describe(g)


# Bodies over 64 KiB on the wire stream to the node; smaller ones are read whole first.
STREAMED, WHOLE = (100_000, 65_536), (20_000, 8_192)


@pytest.mark.parametrize("size, chunk", [STREAMED, WHOLE], ids=["streamed", "whole"])
@pytest.mark.parametrize("damage", ["checksum", "payload", "short", "framing"])
def test_unsigned_trailer_failures_commit_nothing(raw, backend, bucket, existing, damage, size, chunk):
    payload = os.urandom(size)
    body = unsigned_trailer_body(payload, chunk, crc32_b64(payload))
    headers = chunked_headers(payload, body, **{"x-amz-trailer": "x-amz-checksum-crc32"})
    if damage == "checksum":
        body = unsigned_trailer_body(payload, chunk, crc32_b64(payload + b"x"))
        expected = ("BadDigest",)
    elif damage == "payload":
        body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
        expected = ("BadDigest",)
    elif damage == "short":
        headers["x-amz-decoded-content-length"] = str(len(payload) + 10)
        expected = ("IncompleteBody",)
    else:
        body = body.replace(b"\r\n", b"\n", 1)
        expected = ("IncompleteBody", "InvalidRequest")
    headers["Content-Length"] = str(len(body))
    r = raw.request("PUT", f"/{bucket}/{existing}", headers=headers, body=body, payload_hash=UNSIGNED_TRAILER)
    assert r.status_code == 400, describe(r)
    assert any(f"<Code>{code}</Code>".encode() in r.content for code in expected), describe(r)
    assert backend.get(bucket, existing) == b"previous content"


def signing_key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signed_chunked_body(payload: bytes, chunk: int, seed: str, key: bytes, amz_date: str, tamper: bool = False) -> bytes:
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    empty = hashlib.sha256(b"").hexdigest()
    previous, out = seed, b""
    pieces = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for n, piece in enumerate(pieces):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty, hashlib.sha256(piece).hexdigest()])
        signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        data = piece
        if tamper and n == 1:
            data = bytes([piece[0] ^ 1]) + piece[1:]
        out += f"{len(piece):x};chunk-signature={signature}\r\n".encode() + data + b"\r\n"
        previous = signature
    return out


@pytest.mark.parametrize("size, chunk", [(150_000, 65_536), WHOLE], ids=["streamed", "whole"])
@pytest.mark.parametrize("tamper", [False, True])
def test_signed_chunks(raw, creds, backend, bucket, existing, tamper, size, chunk):
    """The seed signature comes from signing the headers with botocore; the chunk signatures chain
    from it. A flipped byte in the second chunk must fail and leave the object as it was."""
    payload = os.urandom(size)
    # Sign the request head (payload hash = STREAMING-...) with botocore, without sending it; the
    # chunk signatures chain from the seed signature it produced.
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from s3http import _Signer

    url = f"{raw.endpoint}/{bucket}/{existing}"
    # The encoded length does not depend on the signature values: size it with a dummy seed.
    encoded_len = len(signed_chunked_body(payload, chunk, "0" * 64, b"k", "20260101T000000Z"))
    head = AWSRequest(method="PUT", url=url, headers=chunked_headers(payload, b"x" * encoded_len), data=b"")
    _Signer(Credentials(creds["access_key_id"], creds["secret_key"]), SIGNED).add_auth(head)
    auth = head.headers["Authorization"]
    amz_date = head.headers["X-Amz-Date"]
    seed = auth.rsplit("Signature=", 1)[1]
    body = signed_chunked_body(payload, chunk, seed, signing_key(creds["secret_key"], amz_date[:8]), amz_date, tamper)
    headers = dict(head.headers.items())
    assert headers["Content-Length"] == str(len(body))
    import requests

    r = requests.put(url, headers=headers, data=body, timeout=60)
    if tamper:
        assert_s3_error(r, 403, "SignatureDoesNotMatch")
        assert backend.get(bucket, existing) == b"previous content"
    else:
        assert r.status_code == 200, describe(r)
        assert backend.get(bucket, existing) == payload


def test_aws_chunked_xml_documents(raw, backend, bucket):
    """Clients may frame small XML requests as aws-chunked too: DeleteObjects with a trailing
    checksum is decoded, verified and served; a wrong trailer deletes nothing."""
    for key in ("x", "y"):
        raw.put(bucket, key, b"data")
    document = b'<Delete><Object><Key>x</Key></Object></Delete>'

    def send(checksum):
        body = unsigned_trailer_body(document, 1024, checksum)
        headers = chunked_headers(document, body, **{"x-amz-trailer": "x-amz-checksum-crc32"})
        return raw.request("POST", f"/{bucket}", query={"delete": None}, headers=headers, body=body, payload_hash=UNSIGNED_TRAILER)

    refused = send(crc32_b64(document + b"tampered"))
    assert_s3_error(refused, 400, "BadDigest")
    assert sorted(backend.keys(f"{bucket}/")) == [f"{bucket}/x", f"{bucket}/y"]
    accepted = send(crc32_b64(document))
    assert accepted.status_code == 200, describe(accepted)
    assert b"<Deleted><Key>x</Key>" in accepted.content
    assert backend.keys(f"{bucket}/") == [f"{bucket}/y"]


SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"


@pytest.mark.parametrize("size, chunk", [(140_000, 65_536), WHOLE], ids=["streamed", "whole"])
@pytest.mark.parametrize("damage", [None, "checksum", "trailer-signature"])
def test_signed_chunks_with_a_signed_trailer(raw, creds, backend, bucket, existing, damage, size, chunk):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER end to end: signed chunks, then a trailing CRC32
    and the trailer's own signature chained from the last chunk's. A wrong checksum or trailer
    signature leaves the object as it was."""
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from s3http import _Signer

    payload = os.urandom(size)
    checksum = crc32_b64(payload if damage != "checksum" else payload[::-1])

    def body_for(seed: str, key: bytes, amz_date: str) -> bytes:
        chunks = signed_chunked_body(payload, chunk, seed, key, amz_date)
        last_signature = chunks.rsplit(b"chunk-signature=", 1)[1].split(b"\r\n", 1)[0].decode()
        trailer = f"x-amz-checksum-crc32:{checksum}\n"
        scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, last_signature, hashlib.sha256(trailer.encode()).hexdigest()])
        signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if damage == "trailer-signature":
            signature = signature[::-1]
        # Trailers follow the final chunk's header line (which has no data and no closing CRLF).
        return chunks[:-2] + f"x-amz-checksum-crc32:{checksum}\r\nx-amz-trailer-signature:{signature}\r\n\r\n".encode()

    url = f"{raw.endpoint}/{bucket}/{existing}"
    extra = {"x-amz-trailer": "x-amz-checksum-crc32"}
    encoded_len = len(body_for("0" * 64, b"k", "20260101T000000Z"))
    head = AWSRequest(method="PUT", url=url, headers=chunked_headers(payload, b"x" * encoded_len, **extra), data=b"")
    _Signer(Credentials(creds["access_key_id"], creds["secret_key"]), SIGNED_TRAILER).add_auth(head)
    amz_date = head.headers["X-Amz-Date"]
    seed = head.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = body_for(seed, signing_key(creds["secret_key"], amz_date[:8]), amz_date)
    headers = dict(head.headers.items())
    assert headers["Content-Length"] == str(len(body))
    import requests

    r = requests.put(url, headers=headers, data=body, timeout=60)
    if damage is None:
        assert r.status_code == 200, describe(r)
        assert backend.get(bucket, existing) == payload
    else:
        assert r.status_code in (400, 403), describe(r)
        assert backend.get(bucket, existing) == b"previous content"
