"""Encrypted projects (the default): clients see plaintext, the node holds ciphertext only, and
tampering on the node gives the client an error, never wrong bytes. docs/FORMAT.md is the format."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import socket
import time

import botocore.exceptions
import pytest
import requests
import urllib3.exceptions
from botocore.exceptions import ClientError

import s3http
import stack
import bench_client
import boto3
from conftest import OPERATOR, make_client, node_entries

KIB = 1024
MIB = 1024 * KIB
RECORD = 64 * KIB
OVERHEAD = 36
SEALED = RECORD + OVERHEAD


def ciphertext_len(size: int) -> int:
    records = max(1, -(-size // RECORD))
    return size + records * OVERHEAD


@pytest.fixture(scope="module")
def eraw(gateway, encrypted_creds):
    return s3http.Raw(gateway.endpoint, encrypted_creds["access_key_id"], encrypted_creds["secret_key"])


def data_of(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def assert_client_etag(etag: str):
    """Encrypted objects' ETags are never shaped like an MD5 (rclone and s3cmd would compare them)."""
    assert not re.fullmatch(r'"?[0-9a-f]{32}"?', etag), etag
    assert "-" in etag, etag


def listed(client, bucket, prefix=""):
    return {
        o["Key"]: o
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }


SIZES = [0, 1, RECORD - 1, RECORD, RECORD + 1, 3 * RECORD + 5, MIB + 17]


def test_round_trip_sizes_etags_and_every_range_form(eraw, es3, encrypted_bucket):
    for size in SIZES:
        key = f"obj-{size}"
        body = data_of(size, size)
        put = eraw.put(encrypted_bucket, key, body)
        etag = put.headers["ETag"]
        assert_client_etag(etag)
        got = es3.get_object(Bucket=encrypted_bucket, Key=key)
        assert got["Body"].read() == body, size
        assert got["ETag"] == etag and got["ContentLength"] == size
        head = es3.head_object(Bucket=encrypted_bucket, Key=key)
        assert head["ETag"] == etag and head["ContentLength"] == size
        entry = listed(es3, encrypted_bucket, key)[key]
        assert entry["Size"] == size and entry["ETag"] == etag

        if size == 0:
            response = eraw.request("GET", f"/{encrypted_bucket}/{key}", headers={"Range": "bytes=0-"})
            s3http.assert_s3_error(response, 416, "InvalidRange")
            continue
        ranges = {
            "bytes=0-0": (0, 0),
            f"bytes={size - 1}-": (size - 1, size - 1),
            "bytes=-1": (size - 1, size - 1),
            f"bytes=-{size + 100}": (0, size - 1),
            f"bytes={size // 2}-{size + 1000}": (size // 2, size - 1),
            f"bytes=0-{size - 1}": (0, size - 1),
        }
        if size > RECORD + 10:
            ranges[f"bytes={RECORD - 5}-{RECORD + 5}"] = (RECORD - 5, RECORD + 5)
            ranges[f"bytes={RECORD}-{RECORD}"] = (RECORD, RECORD)
            ranges[f"bytes=-{RECORD + 3}"] = (size - RECORD - 3, size - 1)
        for header, (first, last) in ranges.items():
            response = eraw.request("GET", f"/{encrypted_bucket}/{key}", headers={"Range": header})
            assert response.status_code == 206, (size, header, s3http.describe(response))
            assert response.content == body[first : last + 1], (size, header)
            assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}", (size, header)
            assert response.headers["Content-Length"] == str(last - first + 1)
            assert response.headers["ETag"] == etag
        beyond = eraw.request("GET", f"/{encrypted_bucket}/{key}", headers={"Range": f"bytes={size}-"})
        s3http.assert_s3_error(beyond, 416, "InvalidRange")
        assert beyond.headers.get("Content-Range") == f"bytes */{size}"


def test_the_node_holds_ciphertext_and_sealed_metadata_only(eraw, es3, encrypted_bucket, encrypted_backend):
    marker = b"PLAINTEXT-MARKER-0123456789"
    body = marker * 10_000
    es3.put_object(
        Bucket=encrypted_bucket,
        Key="secret.txt",
        Body=body,
        ContentType="text/x-secret",
        Metadata={"colour": "ultraviolet-secret"},
        CacheControl="max-age=77",
    )
    stored = encrypted_backend.get(encrypted_bucket, "secret.txt")
    assert len(stored) == ciphertext_len(len(body))
    assert marker not in stored and marker[:12] not in stored
    head = encrypted_backend.object(encrypted_bucket, "secret.txt")
    shown = repr(head)
    assert "ultraviolet" not in shown and "text/x-secret" not in shown and "max-age=77" not in shown
    assert head["ContentType"] == "application/octet-stream"
    assert set(head["Metadata"]) == {"portico-key", "portico-meta"}
    # Through the gateway everything is back.
    got = es3.get_object(Bucket=encrypted_bucket, Key="secret.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/x-secret"
    assert got["Metadata"] == {"colour": "ultraviolet-secret"}
    assert got["CacheControl"] == "max-age=77"
    overridden = es3.get_object(Bucket=encrypted_bucket, Key="secret.txt", ResponseContentType="application/x-other")
    assert overridden["ContentType"] == "application/x-other"
    overridden["Body"].read()
    # Two uploads of the same plaintext never produce the same ciphertext (fresh keys and nonces).
    es3.put_object(Bucket=encrypted_bucket, Key="secret-again.txt", Body=body)
    assert encrypted_backend.get(encrypted_bucket, "secret-again.txt") != stored


@pytest.mark.parametrize("repeats", [1_000, 20_000], ids=["whole", "streamed"])
def test_plaintext_digests_are_verified_by_the_gateway(eraw, es3, encrypted_bucket, repeats):
    """12 KB bodies are read whole and sealed in one go, 240 KB ones stream: either way the
    plaintext's digests and signed hash are the gateway's to check, and a failure keeps the old
    object."""
    eraw.put(encrypted_bucket, "kept", b"previous")
    body = b"new content " * repeats
    bad_md5 = s3http.content_md5(b"other")
    response = eraw.request("PUT", f"/{encrypted_bucket}/kept", body=body, headers={"Content-MD5": bad_md5})
    s3http.assert_s3_error(response, 400, "BadDigest")
    tampered = body[:-1] + b"!"
    response = eraw.request("PUT", f"/{encrypted_bucket}/kept", body=body, send_body=tampered)
    s3http.assert_s3_error(response, 400, "XAmzContentSHA256Mismatch")
    bad_crc = base64.b64encode(b"\0\0\0\0").decode()
    response = eraw.request("PUT", f"/{encrypted_bucket}/kept", body=body, headers={"x-amz-checksum-crc32": bad_crc})
    assert response.status_code == 400, s3http.describe(response)
    assert es3.get_object(Bucket=encrypted_bucket, Key="kept")["Body"].read() == b"previous"
    good_md5 = s3http.content_md5(body)
    response = eraw.request("PUT", f"/{encrypted_bucket}/kept", body=body, headers={"Content-MD5": good_md5})
    assert response.status_code == 200, s3http.describe(response)
    # boto3's default checksum (CRC32) is stored and returned with ChecksumMode=ENABLED.
    put = es3.put_object(Bucket=encrypted_bucket, Key="summed", Body=body)
    got = es3.get_object(Bucket=encrypted_bucket, Key="summed", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got.get("ChecksumCRC32") == put.get("ChecksumCRC32") is not None


def test_multipart_sizes_ranges_etags_and_the_part_rule(es3, encrypted_bucket):
    parts_data = [data_of(5 * MIB, 1), data_of(5 * MIB, 2), data_of(MIB + 3, 3)]
    body = b"".join(parts_data)
    upload = es3.create_multipart_upload(Bucket=encrypted_bucket, Key="mp", ContentType="video/x-test")
    uid = upload["UploadId"]
    etags = []
    for number, data in enumerate(parts_data, 1):
        if number == 1:
            # A part uploaded twice: the second one counts, and no nonce is reused.
            es3.upload_part(Bucket=encrypted_bucket, Key="mp", UploadId=uid, PartNumber=1, Body=data_of(5 * MIB, 9))
        part = es3.upload_part(Bucket=encrypted_bucket, Key="mp", UploadId=uid, PartNumber=number, Body=data)
        assert_client_etag(part["ETag"])
        etags.append({"PartNumber": number, "ETag": part["ETag"]})
    parts = es3.list_parts(Bucket=encrypted_bucket, Key="mp", UploadId=uid)["Parts"]
    assert [p["Size"] for p in parts] == [len(d) for d in parts_data]
    assert [p["ETag"] for p in parts] == [e["ETag"] for e in etags]
    done = es3.complete_multipart_upload(
        Bucket=encrypted_bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": etags}
    )
    etag = done["ETag"]
    head = es3.head_object(Bucket=encrypted_bucket, Key="mp")
    assert head["ContentLength"] == len(body) and head["ETag"] == etag
    assert head["ContentType"] == "video/x-test"
    assert listed(es3, encrypted_bucket)["mp"]["Size"] == len(body)
    assert listed(es3, encrypted_bucket)["mp"]["ETag"] == etag
    got = es3.get_object(Bucket=encrypted_bucket, Key="mp")
    assert got["ETag"] == etag
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    for first, last in [(5 * MIB - 10, 5 * MIB + 10), (10 * MIB - 1, 10 * MIB + 2), (0, 11 * MIB + 2)]:
        got = es3.get_object(Bucket=encrypted_bucket, Key="mp", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == body[first : last + 1]
    part2 = es3.get_object(Bucket=encrypted_bucket, Key="mp", PartNumber=2)
    assert part2["Body"].read() == parts_data[1]
    assert part2["ContentRange"] == f"bytes {5 * MIB}-{10 * MIB - 1}/{len(body)}"

    # Non-final parts that are not whole 64 KiB records are refused with a clear error.
    upload = es3.create_multipart_upload(Bucket=encrypted_bucket, Key="odd")
    uid = upload["UploadId"]
    odd = [
        es3.upload_part(Bucket=encrypted_bucket, Key="odd", UploadId=uid, PartNumber=n, Body=data_of(size, n))["ETag"]
        for n, size in [(1, 5 * MIB + 1), (2, 100)]
    ]
    with pytest.raises(ClientError) as err:
        es3.complete_multipart_upload(
            Bucket=encrypted_bucket,
            Key="odd",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(odd, 1)]},
        )
    assert err.value.response["Error"]["Code"] == "InvalidPart"
    assert "64 KiB" in err.value.response["Error"]["Message"]
    es3.abort_multipart_upload(Bucket=encrypted_bucket, Key="odd", UploadId=uid)
    with pytest.raises(ClientError):
        es3.head_object(Bucket=encrypted_bucket, Key="odd")


def test_copy_rewraps_keys_and_upload_part_copy_reencrypts(
    eraw, es3, encrypted_bucket, encrypted_backend, new_encrypted_bucket
):
    body = data_of(3 * RECORD + 77, 5)
    es3.put_object(Bucket=encrypted_bucket, Key="src", Body=body, ContentType="a/b", Metadata={"m": "1"})
    etag = es3.head_object(Bucket=encrypted_bucket, Key="src")["ETag"]
    other = new_encrypted_bucket()
    copied = es3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": encrypted_bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = es3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == body and got["ContentType"] == "a/b" and got["Metadata"] == {"m": "1"}
    # The records are copied as they are; only the wrapped key differs.
    assert encrypted_backend.get(other, "dst") == encrypted_backend.get(encrypted_bucket, "src")
    es3.copy_object(
        Bucket=encrypted_bucket,
        Key="src",
        CopySource={"Bucket": encrypted_bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="c/d",
        Metadata={"m": "2"},
    )
    got = es3.get_object(Bucket=encrypted_bucket, Key="src")
    assert got["Body"].read() == body and got["ContentType"] == "c/d" and got["Metadata"] == {"m": "2"}
    with pytest.raises(ClientError) as err:
        es3.copy_object(
            Bucket=encrypted_bucket, Key="x", CopySource={"Bucket": encrypted_bucket, "Key": "src"}, CopySourceIfMatch='"nope-0"'
        )
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"

    big = data_of(5 * MIB + 100, 6)
    es3.put_object(Bucket=encrypted_bucket, Key="big", Body=big)
    uid = es3.create_multipart_upload(Bucket=other, Key="assembled")["UploadId"]
    p1 = es3.upload_part_copy(
        Bucket=other, Key="assembled", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": encrypted_bucket, "Key": "big"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )
    p2 = es3.upload_part_copy(
        Bucket=other, Key="assembled", UploadId=uid, PartNumber=2,
        CopySource={"Bucket": encrypted_bucket, "Key": "src"}, CopySourceRange="bytes=1000-70000",
    )
    es3.complete_multipart_upload(
        Bucket=other, Key="assembled", UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
        ]},
    )
    assert es3.get_object(Bucket=other, Key="assembled")["Body"].read() == big[: 5 * MIB] + body[1000:70001]


def test_conditional_requests_use_client_etags(eraw, es3, encrypted_bucket):
    eraw.put(encrypted_bucket, "c", b"conditional")
    etag = es3.head_object(Bucket=encrypted_bucket, Key="c")["ETag"]
    assert es3.get_object(Bucket=encrypted_bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    with pytest.raises(ClientError) as err:
        es3.get_object(Bucket=encrypted_bucket, Key="c", IfMatch='"0123-0"')
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    response = eraw.request("GET", f"/{encrypted_bucket}/c", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.headers["ETag"] == etag
    response = eraw.request("PUT", f"/{encrypted_bucket}/c", body=b"x", headers={"If-None-Match": "*"})
    s3http.assert_s3_error(response, 412, "PreconditionFailed")
    response = eraw.request("PUT", f"/{encrypted_bucket}/c", body=b"y", headers={"If-Match": etag})
    assert response.status_code == 200, s3http.describe(response)
    assert es3.get_object(Bucket=encrypted_bucket, Key="c")["Body"].read() == b"y"


def read_fails(client, bucket, key, **kwargs) -> bool:
    """True when reading the object ends in an error (at the start or mid-body)."""
    try:
        response = client.get_object(Bucket=bucket, Key=key, **kwargs)
        response["Body"].read()
    except (
        ClientError,
        botocore.exceptions.IncompleteReadError,
        botocore.exceptions.ResponseStreamingError,
        urllib3.exceptions.HTTPError,
        requests.exceptions.RequestException,
        ConnectionError,
    ):
        return True
    return False


@pytest.mark.parametrize("damage", ["flip-ciphertext", "flip-locator", "swap-records", "drop-middle", "drop-last", "truncate"])
def test_tampering_on_the_node_never_yields_wrong_bytes(es3, encrypted_bucket, encrypted_backend, node, damage):
    body = data_of(4 * RECORD + 1000, 7)
    es3.put_object(Bucket=encrypted_bucket, Key="t", Body=body)
    backend_key = encrypted_backend.key(encrypted_bucket, "t")
    head = encrypted_backend.head(backend_key)
    stored = bytearray(encrypted_backend.get(encrypted_bucket, "t"))
    records = [bytes(stored[i : i + SEALED]) for i in range(0, len(stored), SEALED)]
    if damage == "flip-ciphertext":
        stored[2 * SEALED + 100] ^= 1
        tampered = bytes(stored)
    elif damage == "flip-locator":
        stored[SEALED + 7] ^= 1
        tampered = bytes(stored)
    elif damage == "swap-records":
        records[1], records[2] = records[2], records[1]
        tampered = b"".join(records)
    elif damage == "drop-middle":
        tampered = b"".join(records[:1] + records[2:])
    elif damage == "drop-last":
        tampered = b"".join(records[:-1])
    else:
        tampered = bytes(stored[:-10])
    node.put_object(
        Bucket=encrypted_backend.bucket, Key=backend_key, Body=tampered,
        Metadata=head["Metadata"], ContentType="application/octet-stream",
    )
    assert read_fails(es3, encrypted_bucket, "t")
    # A range reading the damaged region fails too; one reading only intact records is served.
    damaged_range = "bytes=-100" if damage == "truncate" else f"bytes={RECORD + 10}-{3 * RECORD}"
    assert read_fails(es3, encrypted_bucket, "t", Range=damaged_range)
    if damage in ("flip-ciphertext", "truncate"):
        intact = es3.get_object(Bucket=encrypted_bucket, Key="t", Range=f"bytes=10-{RECORD + 10}")["Body"].read()
        assert intact == body[10 : RECORD + 11]


@pytest.mark.parametrize("damage", ["flip-ciphertext", "flip-locator", "truncate", "empty"])
def test_a_damaged_small_read_is_an_error_answer(es3, encrypted_bucket, encrypted_backend, node, damage):
    """Reads of at most one stored record (a small object, or a small range of a large one) are
    decrypted whole before the answer goes out: damage on the node is a 500 InternalError answer,
    never a 200 with wrong or missing bytes."""
    reads = [("small-t", 5000, None)]
    if damage.startswith("flip"):
        reads.append(("large-t", 3 * RECORD, "bytes=10-1000"))
    for key, size, ranged in reads:
        body = data_of(size, 8)
        es3.put_object(Bucket=encrypted_bucket, Key=key, Body=body)
        backend_key = encrypted_backend.key(encrypted_bucket, key)
        head = encrypted_backend.head(backend_key)
        stored = bytearray(encrypted_backend.get(encrypted_bucket, key))
        if damage == "flip-ciphertext":
            stored[100] ^= 1
        elif damage == "flip-locator":
            stored[3] ^= 1
        elif damage == "truncate":
            stored = stored[:-10]
        else:
            stored = bytearray()
        node.put_object(
            Bucket=encrypted_backend.bucket, Key=backend_key, Body=bytes(stored),
            Metadata=head["Metadata"], ContentType="application/octet-stream",
        )
        with pytest.raises(ClientError) as failed:
            es3.get_object(Bucket=encrypted_bucket, Key=key, **({"Range": ranged} if ranged else {}))["Body"].read()
        error = failed.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500, (key, error)
        assert error["Error"]["Code"] == "InternalError", (key, error)


def test_keys_are_bound_to_bucket_and_name(es3, encrypted_bucket, encrypted_backend, node, new_encrypted_bucket):
    es3.put_object(Bucket=encrypted_bucket, Key="a", Body=b"object a")
    es3.put_object(Bucket=encrypted_bucket, Key="b", Body=b"object b")
    other = new_encrypted_bucket()
    source = {"Bucket": encrypted_backend.bucket}
    # The node moves a's bytes and metadata to b, and to another bucket: both reads fail.
    node.copy_object(Bucket=encrypted_backend.bucket, Key=encrypted_backend.key(encrypted_bucket, "b"),
                     CopySource={**source, "Key": encrypted_backend.key(encrypted_bucket, "a")})
    node.copy_object(Bucket=encrypted_backend.bucket, Key=encrypted_backend.key(other, "a"),
                     CopySource={**source, "Key": encrypted_backend.key(encrypted_bucket, "a")})
    assert read_fails(es3, encrypted_bucket, "b")
    assert read_fails(es3, other, "a")
    assert es3.get_object(Bucket=encrypted_bucket, Key="a")["Body"].read() == b"object a"


def test_an_empty_object_is_checked_too(es3, encrypted_bucket, encrypted_backend, node):
    es3.put_object(Bucket=encrypted_bucket, Key="empty", Body=b"")
    assert es3.get_object(Bucket=encrypted_bucket, Key="empty")["Body"].read() == b""
    backend_key = encrypted_backend.key(encrypted_bucket, "empty")
    head = encrypted_backend.head(backend_key)
    node.put_object(Bucket=encrypted_backend.bucket, Key=backend_key, Body=bytes(OVERHEAD), Metadata=head["Metadata"])
    with pytest.raises(ClientError) as err:
        es3.get_object(Bucket=encrypted_bucket, Key="empty")
    assert err.value.response["Error"]["Code"] == "InternalError"


def test_aws_chunked_uploads_are_sealed_and_verified(eraw, es3, encrypted_bucket, encrypted_backend):
    """What boto3 and the aws CLI send over HTTPS: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32
    trailer. The decoded plaintext is sealed; a wrong trailer commits nothing."""
    from test_aws_chunked import UNSIGNED_TRAILER, chunked_headers, crc32_b64, unsigned_trailer_body

    payload = data_of(3 * RECORD + 123, 11)
    body = unsigned_trailer_body(payload, 65_536, crc32_b64(payload))
    headers = chunked_headers(payload, body, **{"x-amz-trailer": "x-amz-checksum-crc32"})
    response = eraw.request("PUT", f"/{encrypted_bucket}/chunked", headers=headers, body=body, payload_hash=UNSIGNED_TRAILER)
    assert response.status_code == 200, s3http.describe(response)
    assert es3.get_object(Bucket=encrypted_bucket, Key="chunked")["Body"].read() == payload
    assert len(encrypted_backend.get(encrypted_bucket, "chunked")) == ciphertext_len(len(payload))
    bad = unsigned_trailer_body(b"x" * len(payload), 65_536, crc32_b64(payload))
    response = eraw.request("PUT", f"/{encrypted_bucket}/chunked", headers=headers, body=bad, payload_hash=UNSIGNED_TRAILER)
    assert response.status_code == 400, s3http.describe(response)
    assert es3.get_object(Bucket=encrypted_bucket, Key="chunked")["Body"].read() == payload


def test_a_grant_reads_only_the_buckets_whose_keys_it_carries(gateway, encrypted_project, es3, new_encrypted_bucket):
    from conftest import make_client, restrict
    import stack

    mine, other = new_encrypted_bucket(), new_encrypted_bucket()
    es3.put_object(Bucket=mine, Key="k", Body=b"mine")
    es3.put_object(Bucket=other, Key="k", Body=b"other")
    grant = restrict(encrypted_project["access_grant"], "--bucket", mine)
    creds = stack.register(gateway.endpoint, grant)
    client = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    assert client.get_object(Bucket=mine, Key="k")["Body"].read() == b"mine"
    client.put_object(Bucket=mine, Key="new", Body=b"written with a one-bucket grant")
    assert es3.get_object(Bucket=mine, Key="new")["Body"].read() == b"written with a one-bucket grant"
    with pytest.raises(ClientError) as err:
        client.get_object(Bucket=other, Key="k")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_both_cipher_paths_write_and_read_one_format(garage, workdir):
    """Records sealed through WebCrypto open through wasm's AES-GCM (`PORTICO_CRYPTO=wasm`, for
    runtimes without WebCrypto) and the other way round, whole and ranged, single-part and
    multipart: the stored format does not depend on the path. Workers of either kind take turns
    over one persisted KV namespace, so they share the project and its credentials."""
    kv = workdir / "kv-cipher-paths"
    backend_bucket = garage.create_bucket("portico-cipher-paths")
    bucket = "cipher-paths"
    written: dict[str, dict[str, bytes]] = {}

    def serving(crypto: str):
        bindings = {
            "PORTICO_NODES": json.dumps(node_entries(garage)),
            "PORTICO_BASE_DOMAINS": "s3.localhost",
            "PORTICO_REGION": stack.REGION,
            "PORTICO_CRYPTO": crypto,
            **OPERATOR,
        }
        return stack.Worker(bindings, [], workdir / f"worker-{crypto}", kv_persist=kv).start_miniflare()

    def write_all(client, path: str) -> dict[str, bytes]:
        objects = {}
        for size in [0, 1, RECORD, RECORD + 1, 17 * RECORD + 5]:
            objects[f"{path}-{size}"] = data_of(size, size + len(path))
            client.put_object(Bucket=bucket, Key=f"{path}-{size}", Body=objects[f"{path}-{size}"])
        parts = [data_of(5 * MIB, 11), data_of(RECORD + 9, 12)]
        key = f"{path}-multipart"
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etags = []
        for number, data in enumerate(parts, 1):
            part = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data)
            etags.append({"PartNumber": number, "ETag": part["ETag"]})
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": etags})
        objects[key] = b"".join(parts)
        return objects

    def read_all(client, objects: dict[str, bytes]) -> None:
        for key, body in objects.items():
            assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
            if len(body) > RECORD:
                first, last = RECORD - 3, len(body) - 2
                got = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")
                assert got["Body"].read() == body[first : last + 1], key

    def client_of(worker, creds):
        return make_client(worker.endpoint, creds["access_key_id"], creds["secret_key"])

    worker = serving("wasm")
    try:
        project = stack.create_project(
            worker.endpoint, OPERATOR["PORTICO_ADMIN_TOKEN"], "local", backend_bucket, "cipher-paths"
        )
        creds = stack.register(worker.endpoint, project["access_grant"])
        client_of(worker, creds).create_bucket(Bucket=bucket)
        written["wasm"] = write_all(client_of(worker, creds), "wasm")
        read_all(client_of(worker, creds), written["wasm"])
    finally:
        worker.stop()
    worker = serving("webcrypto")
    try:
        read_all(client_of(worker, creds), written["wasm"])
        written["webcrypto"] = write_all(client_of(worker, creds), "webcrypto")
    finally:
        worker.stop()
    worker = serving("wasm")
    try:
        read_all(client_of(worker, creds), written["webcrypto"])
        # A record damaged on the node fails on this path too: never wrong bytes.
        node = garage.client(boto3)
        listing = node.list_objects_v2(Bucket=backend_bucket)["Contents"]
        stored_key = next(o["Key"] for o in listing if o["Key"].endswith("webcrypto-65537"))
        stored = node.get_object(Bucket=backend_bucket, Key=stored_key)
        damaged = bytearray(stored["Body"].read())
        damaged[100] ^= 1
        node.put_object(Bucket=backend_bucket, Key=stored_key, Body=bytes(damaged), Metadata=stored["Metadata"])
        assert read_fails(client_of(worker, creds), bucket, "webcrypto-65537")
    finally:
        worker.stop()


def test_a_slow_reader_gets_every_byte(gateway, encrypted_creds, eraw, encrypted_bucket):
    """A client reading slowly through a small receive buffer holds the response stream back the
    whole way: the gateway's bounded writes wait on it, and each record's plaintext buffer is
    released only after its write; the client must still get exactly the object's bytes."""
    size = 8 * MIB + 5
    body = data_of(size, 17)
    eraw.put(encrypted_bucket, "slow", body)
    target = bench_client.Target(
        "gateway", gateway.endpoint, encrypted_creds["access_key_id"], encrypted_creds["secret_key"], encrypted_bucket
    )
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * KIB)
    conn.connect(target.address)
    conn.settimeout(30)
    try:
        conn.sendall(target.sign("GET", "slow", headers={"Accept-Encoding": "identity"}))
        received = b""
        while b"\r\n\r\n" not in received:
            received += conn.recv(16 * KIB)
        head, got = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert f"content-length: {size}".encode() in head.lower(), head
        digest = hashlib.sha256(got)
        count = len(got)
        while count < size:
            piece = conn.recv(16 * KIB)
            assert piece, f"the body ended after {count} of {size} bytes"
            digest.update(piece)
            count += len(piece)
            time.sleep(0.002)
        assert count == size and digest.digest() == hashlib.sha256(body).digest()
    finally:
        conn.close()
