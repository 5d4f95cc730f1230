"""Object operations: PutObject, GetObject (whole and ranged), HeadObject, DeleteObject; headers
and user metadata round-trips; awkward keys; empty and large objects. Every write is read back
from the storage node as well as through the gateway."""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import os
import uuid

import pytest
from botocore.exceptions import ClientError

from s3http import assert_s3_error, content_md5, describe, encode_key, md5_etag

# Accept-Encoding is not signed: the runtime may rewrite it before the worker sees it.
IDENTITY = {"Accept-Encoding": "identity"}
DATA = bytes(range(256)) * 4  # 1024 bytes, every byte value, position-dependent content
SIZE = len(DATA)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def shared_bucket(s3, backend):
    """One bucket for the tests of this module that each use their own keys."""
    name = f"it-objects-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    yield name
    backend.remove_bucket(name)


def unique_key(prefix: str = "obj") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- Put / Get / Head


def test_put_get_head_round_trip(s3, backend, shared_bucket):
    key = unique_key()
    put = s3.put_object(Bucket=shared_bucket, Key=key, Body=DATA)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["ETag"] == md5_etag(DATA)

    got = s3.get_object(Bucket=shared_bucket, Key=key)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == DATA
    assert got["ContentLength"] == SIZE
    assert got["ETag"] == put["ETag"]
    assert isinstance(got["LastModified"], datetime.datetime)

    head = s3.head_object(Bucket=shared_bucket, Key=key)
    assert head["ContentLength"] == SIZE
    assert head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]

    # Stored where the design says: backend key "<bucket>/<key>", bytes untouched (plain project).
    assert backend.get(shared_bucket, key) == DATA


def test_raw_get_and_head_headers(raw, s3, shared_bucket):
    key = unique_key()
    raw.put(shared_bucket, key, DATA, headers={"Content-Type": "application/x-test"})
    r = raw.request("GET", f"/{shared_bucket}/{key}")
    assert r.status_code == 200, describe(r)
    assert r.content == DATA
    assert r.headers["content-length"] == str(SIZE)
    assert r.headers["etag"] == md5_etag(DATA)
    assert r.headers["content-type"] == "application/x-test"
    assert r.headers.get("last-modified")
    assert r.headers.get("x-amz-request-id")

    h = raw.request("HEAD", f"/{shared_bucket}/{key}")
    assert h.status_code == 200, describe(h)
    assert h.content == b""
    assert h.headers["content-length"] == str(SIZE)
    assert h.headers["etag"] == md5_etag(DATA)
    assert h.headers["content-type"] == "application/x-test"
    assert h.headers["last-modified"] == r.headers["last-modified"]


def test_overwrite_replaces_content(s3, backend, shared_bucket):
    key = unique_key()
    s3.put_object(Bucket=shared_bucket, Key=key, Body=b"first version")
    second = s3.put_object(Bucket=shared_bucket, Key=key, Body=b"second, longer version")
    assert second["ETag"] == md5_etag(b"second, longer version")
    got = s3.get_object(Bucket=shared_bucket, Key=key)
    assert got["Body"].read() == b"second, longer version"
    assert got["ETag"] == second["ETag"]
    assert backend.get(shared_bucket, key) == b"second, longer version"


def test_metadata_and_object_headers_round_trip(s3, raw, backend, shared_bucket):
    key = unique_key()
    body = gzip.compress(b"hello, compressed world\n" * 100)
    expires = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    put = s3.put_object(
        Bucket=shared_bucket,
        Key=key,
        Body=body,
        Metadata={"colour": "blue", "Multi-Word-Name": "Some Value With Spaces", "n": "42"},
        # Not a type Cloudflare's front end compresses (see test_edge_compression_is_transparent):
        # with text/plain, that layer would decode this gzip body for clients that do not
        # accept gzip, as the edge does in production.
        ContentType="application/octet-stream; charset=utf-8",
        CacheControl="max-age=3600, public",
        ContentDisposition='attachment; filename="report.txt"',
        ContentEncoding="gzip",
        ContentLanguage="en-GB",
        Expires=expires,
    )
    expected_meta = {"colour": "blue", "multi-word-name": "Some Value With Spaces", "n": "42"}

    for answer in (s3.head_object(Bucket=shared_bucket, Key=key), s3.get_object(Bucket=shared_bucket, Key=key)):
        assert answer["Metadata"] == expected_meta
        assert answer["ContentType"] == "application/octet-stream; charset=utf-8"
        assert answer["CacheControl"] == "max-age=3600, public"
        assert answer["ContentDisposition"] == 'attachment; filename="report.txt"'
        assert answer["ContentEncoding"] == "gzip"
        assert answer["ContentLanguage"] == "en-GB"
        assert answer["ContentLength"] == len(body)
        assert answer["ETag"] == put["ETag"] == md5_etag(body)
        if "Body" in answer:
            # The stored bytes come back as stored: no decompression or re-compression on the way.
            assert answer["Body"].read() == body
    assert s3.head_object(Bucket=shared_bucket, Key=key)["ResponseMetadata"]["HTTPHeaders"].get("expires") == (
        "Thu, 02 Jan 2031 03:04:05 GMT"
    )

    # Raw bytes on the wire, not decoded by the HTTP client.
    r = raw.request("GET", f"/{shared_bucket}/{key}", unsigned_headers=IDENTITY, stream=True)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("content-encoding") == "gzip"
    assert r.headers.get("content-length") == str(len(body))
    assert r.raw.read(decode_content=False) == body

    # On the node: same bytes, same metadata.
    assert backend.get(shared_bucket, key) == body
    stored = backend.object(shared_bucket, key)
    assert stored["Metadata"] == expected_meta
    assert stored["ContentType"] == "application/octet-stream; charset=utf-8"


def test_gzip_encoded_object_round_trips_byte_identical(s3, raw, backend, shared_bucket):
    """An object stored with Content-Encoding: gzip is opaque bytes to S3: served exactly as stored,
    with its Content-Encoding and exact Content-Length, never decompressed on the way."""
    key = unique_key("gz")
    body = gzip.compress(os.urandom(2048) + b"compressible " * 500)
    s3.put_object(Bucket=shared_bucket, Key=key, Body=body, ContentEncoding="gzip", ContentType="application/octet-stream")
    assert backend.get(shared_bucket, key) == body

    got = s3.get_object(Bucket=shared_bucket, Key=key)
    assert got["Body"].read() == body
    assert got.get("ContentEncoding") == "gzip"
    assert got["ContentLength"] == len(body)

    for accept in ("identity", "gzip, deflate, br"):
        r = raw.request("GET", f"/{shared_bucket}/{key}", unsigned_headers={"Accept-Encoding": accept}, stream=True)
        assert r.status_code == 200, describe(r)
        assert r.headers.get("content-encoding") == "gzip", describe(r)
        assert r.headers.get("content-length") == str(len(body)), describe(r)
        assert r.raw.read(decode_content=False) == body, accept

    ranged = s3.get_object(Bucket=shared_bucket, Key=key, Range="bytes=0-99")
    assert ranged["Body"].read() == body[:100]
    assert ranged["ContentRange"] == f"bytes 0-99/{len(body)}"


def test_plain_object_has_no_content_encoding(s3, raw, shared_bucket):
    """An object uploaded without Content-Encoding has none on HEAD and GET."""
    key = unique_key("noenc")
    raw.put(shared_bucket, key, b"plain bytes")
    for answer in (s3.head_object(Bucket=shared_bucket, Key=key), s3.get_object(Bucket=shared_bucket, Key=key)):
        headers = answer["ResponseMetadata"]["HTTPHeaders"]
        assert "content-encoding" not in headers, headers
    r = raw.request("GET", f"/{shared_bucket}/{key}", unsigned_headers=IDENTITY)
    assert "content-encoding" not in r.headers, describe(r)


def test_response_header_overrides(s3, raw, shared_bucket):
    key = unique_key()
    raw.put(shared_bucket, key, b"{}", headers={"Content-Type": "text/plain"})
    got = s3.get_object(
        Bucket=shared_bucket,
        Key=key,
        ResponseContentType="application/json",
        ResponseContentDisposition='inline; filename="x.json"',
        ResponseCacheControl="no-store",
    )
    assert got["Body"].read() == b"{}"
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == 'inline; filename="x.json"'
    assert got["CacheControl"] == "no-store"
    # The stored object is unchanged.
    assert s3.head_object(Bucket=shared_bucket, Key=key)["ContentType"] == "text/plain"


def test_empty_object(s3, raw, backend, shared_bucket):
    key = unique_key("empty")
    put = s3.put_object(Bucket=shared_bucket, Key=key, Body=b"")
    assert put["ETag"] == md5_etag(b"")
    got = s3.get_object(Bucket=shared_bucket, Key=key)
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == md5_etag(b"")
    assert s3.head_object(Bucket=shared_bucket, Key=key)["ContentLength"] == 0
    assert backend.get(shared_bucket, key) == b""

    r = raw.request("PUT", f"/{shared_bucket}/{key}-raw", body=b"")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("etag") == md5_etag(b"")
    assert backend.get(shared_bucket, f"{key}-raw") == b""


def test_directory_marker_object(s3, backend, shared_bucket):
    key = unique_key("folder") + "/"
    s3.put_object(Bucket=shared_bucket, Key=key, Body=b"")
    assert s3.head_object(Bucket=shared_bucket, Key=key)["ContentLength"] == 0
    listed = s3.list_objects_v2(Bucket=shared_bucket, Prefix=key)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert backend.object(shared_bucket, key) is not None


def test_large_object_round_trips_byte_identical(s3, backend, shared_bucket):
    key = unique_key("large")
    data = os.urandom(20 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    put = s3.put_object(Bucket=shared_bucket, Key=key, Body=data)
    assert put["ETag"] == md5_etag(data)

    got = s3.get_object(Bucket=shared_bucket, Key=key)
    assert got["ContentLength"] == len(data)
    hasher = hashlib.sha256()
    received = 0
    for chunk in got["Body"].iter_chunks(1024 * 1024):
        hasher.update(chunk)
        received += len(chunk)
    assert received == len(data)
    assert hasher.hexdigest() == digest

    # A range deep inside the object, crossing a MiB boundary.
    start, end = 7 * 1024 * 1024 - 100, 7 * 1024 * 1024 + 99
    ranged = s3.get_object(Bucket=shared_bucket, Key=key, Range=f"bytes={start}-{end}")
    assert ranged["Body"].read() == data[start : end + 1]
    assert ranged["ContentRange"] == f"bytes {start}-{end}/{len(data)}"

    stored = backend.object(shared_bucket, key)
    assert stored["ContentLength"] == len(data)
    assert stored["ETag"] == put["ETag"]
    s3.delete_object(Bucket=shared_bucket, Key=key)


# ---------------------------------------------------------------- Range


@pytest.fixture(scope="module")
def ranged_key(raw, shared_bucket):
    key = unique_key("ranged")
    raw.put(shared_bucket, key, DATA)
    return key


@pytest.mark.parametrize(
    "header,first,last",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1023-1023", 1023, 1023),
        ("bytes=1000-", 1000, 1023),
        ("bytes=0-", 0, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=-1", 1023, 1023),
        ("bytes=1020-5000", 1020, 1023),  # end beyond the size is clamped
        ("bytes=-5000", 0, 1023),  # suffix longer than the object: all of it
    ],
)
def test_get_range(s3, raw, shared_bucket, ranged_key, header, first, last):
    got = s3.get_object(Bucket=shared_bucket, Key=ranged_key, Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == DATA[first : last + 1]
    assert got["ContentLength"] == last - first + 1
    assert got["ContentRange"] == f"bytes {first}-{last}/{SIZE}"
    assert got["ETag"] == md5_etag(DATA)

    # Accept-Encoding identity, as boto3 sends it (see test_object_bodies_are_not_recompressed).
    r = raw.request("GET", f"/{shared_bucket}/{ranged_key}", headers={"Range": header}, unsigned_headers=IDENTITY)
    assert r.status_code == 206, describe(r)
    assert r.content == DATA[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert r.headers["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=1024-2000", "bytes=5000-6000"])
def test_unsatisfiable_range_is_invalid_range(s3, raw, shared_bucket, ranged_key, header):
    r = raw.request("GET", f"/{shared_bucket}/{ranged_key}", headers={"Range": header})
    assert_s3_error(r, 416, "InvalidRange")
    assert r.headers.get("content-range") == f"bytes */{SIZE}", describe(r)

    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=shared_bucket, Key=ranged_key, Range=header)
    assert error_code(excinfo) == "InvalidRange"
    assert status_of(excinfo) == 416


# ---------------------------------------------------------------- missing things


def test_get_missing_key_is_no_such_key(s3, raw, shared_bucket):
    key = unique_key("missing")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=shared_bucket, Key=key)
    assert error_code(excinfo) == "NoSuchKey"
    assert status_of(excinfo) == 404
    doc = assert_s3_error(raw.request("GET", f"/{shared_bucket}/{key}"), 404, "NoSuchKey")
    # S3 names the key (in <Key>) or the resource; the gateway uses <Resource>.
    assert key in (doc.get("Key", "") + doc.get("Resource", "")), doc

    h = raw.request("HEAD", f"/{shared_bucket}/{key}")
    assert h.status_code == 404, describe(h)
    assert h.content == b""
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=shared_bucket, Key=key)
    assert status_of(excinfo) == 404


def test_object_operations_on_missing_bucket(s3, raw, backend, new_bucket):
    name = new_bucket(create=False)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=name, Key="k")
    assert error_code(excinfo) == "NoSuchBucket"
    assert_s3_error(raw.request("GET", f"/{name}/k"), 404, "NoSuchBucket")

    h = raw.request("HEAD", f"/{name}/k")
    assert h.status_code == 404, describe(h)

    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=name, Key="k", Body=b"orphan")
    assert error_code(excinfo) == "NoSuchBucket"
    assert status_of(excinfo) == 404
    assert_s3_error(raw.request("PUT", f"/{name}/k", body=b"orphan"), 404, "NoSuchBucket")
    # Nothing was written for the missing bucket.
    assert backend.keys(f"{name}/") == []
    assert backend.bucket_record(name) is None


# ---------------------------------------------------------------- DeleteObject


def test_delete_object(s3, raw, backend, shared_bucket):
    key = unique_key("del")
    raw.put(shared_bucket, key, b"short-lived")
    r = raw.request("DELETE", f"/{shared_bucket}/{key}")
    assert r.status_code == 204, describe(r)
    assert r.content == b""
    assert backend.object(shared_bucket, key) is None
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=shared_bucket, Key=key)
    assert error_code(excinfo) == "NoSuchKey"
    assert key not in [o["Key"] for o in s3.list_objects_v2(Bucket=shared_bucket, Prefix=key).get("Contents", [])]


def test_delete_object_is_idempotent(s3, raw, shared_bucket):
    key = unique_key("never-existed")
    assert s3.delete_object(Bucket=shared_bucket, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    r = raw.request("DELETE", f"/{shared_bucket}/{key}")
    assert r.status_code == 204, describe(r)


def test_delete_object_only_deletes_that_key(s3, raw, backend, shared_bucket):
    base = unique_key("sib")
    for k in (base, base + "x", base + "/child"):
        raw.put(shared_bucket, k, k.encode())
    s3.delete_object(Bucket=shared_bucket, Key=base)
    assert backend.object(shared_bucket, base) is None
    assert backend.get(shared_bucket, base + "x") == (base + "x").encode()
    assert backend.get(shared_bucket, base + "/child") == (base + "/child").encode()


def test_delete_object_on_missing_bucket(s3, raw, new_bucket):
    name = new_bucket(create=False)
    with pytest.raises(ClientError) as excinfo:
        s3.delete_object(Bucket=name, Key="k")
    assert error_code(excinfo) == "NoSuchBucket"
    assert status_of(excinfo) == 404
    assert_s3_error(raw.request("DELETE", f"/{name}/k"), 404, "NoSuchBucket")


# ---------------------------------------------------------------- integrity of plain PUTs


def test_wrong_content_md5_is_bad_digest_and_keeps_old_content(s3, raw, backend, shared_bucket):
    key = unique_key("md5")
    raw.put(shared_bucket, key, b"original")
    wrong = content_md5(b"something else")
    r = raw.request("PUT", f"/{shared_bucket}/{key}", body=b"replacement", headers={"Content-MD5": wrong})
    assert_s3_error(r, 400, "BadDigest")
    assert s3.get_object(Bucket=shared_bucket, Key=key)["Body"].read() == b"original"
    assert backend.get(shared_bucket, key) == b"original"


def test_correct_content_md5_is_accepted(s3, raw, backend, shared_bucket):
    key = unique_key("md5ok")
    body = b"checked body"
    good = content_md5(body)
    r = raw.request("PUT", f"/{shared_bucket}/{key}", body=body, headers={"Content-MD5": good})
    assert r.status_code == 200, describe(r)
    assert backend.get(shared_bucket, key) == body


@pytest.mark.parametrize("size", [1, 65_535, 65_536, 65_537, 300_000])
def test_uploads_either_side_of_the_whole_body_limit(s3, raw, backend, shared_bucket, size):
    """Bodies up to 64 KiB are read whole and checked before anything is sent; larger ones stream
    with their last bytes held back. Either way a signed body arrives intact, and a tampered one
    or a wrong Content-MD5 leaves the previous object in place."""
    key = unique_key(f"limit-{size}")
    body = os.urandom(size)
    r = raw.request("PUT", f"/{shared_bucket}/{key}", body=body, headers={"Content-MD5": content_md5(body)})
    assert r.status_code == 200, describe(r)
    assert backend.get(shared_bucket, key) == body
    assert s3.get_object(Bucket=shared_bucket, Key=key)["Body"].read() == body

    replacement = os.urandom(size)
    tampered = replacement[:-1] + bytes([replacement[-1] ^ 1])
    r = raw.request("PUT", f"/{shared_bucket}/{key}", body=replacement, send_body=tampered)
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    r = raw.request("PUT", f"/{shared_bucket}/{key}", body=replacement, headers={"Content-MD5": content_md5(body)})
    assert_s3_error(r, 400, "BadDigest")
    assert backend.get(shared_bucket, key) == body


def test_wrong_checksum_header_is_bad_digest_and_keeps_old_content(s3, raw, backend, shared_bucket):
    key = unique_key("crc")
    raw.put(shared_bucket, key, b"original")
    # CRC32 of b"something else", not of the body sent.
    import zlib

    wrong = base64.b64encode(zlib.crc32(b"something else").to_bytes(4, "big")).decode()
    r = raw.request("PUT", f"/{shared_bucket}/{key}", body=b"replacement", headers={"x-amz-checksum-crc32": wrong})
    assert_s3_error(r, 400, "BadDigest")
    assert s3.get_object(Bucket=shared_bucket, Key=key)["Body"].read() == b"original"
    assert backend.get(shared_bucket, key) == b"original"


# ---------------------------------------------------------------- keys


AWKWARD_KEYS = [
    "with space",
    "  leading and trailing spaces  ",
    "plus+sign",
    "100%",
    "percent%20not-an-escape",
    "question?mark",
    "hash#tag",
    "amp&equals=semi;colon",
    "unicode-ünïcödé/日本語/😀",
    "//double//slashes",
    "trailing/",
    "xml<&>\"'chars",
    "tilde~star*paren()quote'bang!",
    "brackets[]{}caret^pipe|backtick`",
    "back\\slash",
    "colon:comma,at@dollar$",
    "tab\tchar",
]


@pytest.mark.parametrize("key", AWKWARD_KEYS, ids=lambda k: k.encode("unicode_escape").decode())
def test_awkward_keys_round_trip(s3, backend, new_bucket, key):
    bucket = new_bucket()
    body = b"content of " + key.encode("utf-8")
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert put["ETag"] == md5_etag(body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)

    # The node holds exactly "<bucket>/<key>": no normalization of the key on the way.
    assert backend.keys(f"{bucket}/") == [f"{bucket}/{key}"]
    assert backend.get(bucket, key) == body

    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    listed_v1 = s3.list_objects(Bucket=bucket)
    assert [o["Key"] for o in listed_v1["Contents"]] == [key]

    assert s3.delete_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backend.keys(f"{bucket}/") == []


@pytest.mark.parametrize("key", ["a/../b", "./dot/./segments/.", ".."])
def test_dot_segment_keys_are_refused_and_write_nothing(s3, backend, new_bucket, key):
    """A documented limit: the Workers runtime normalizes `.` and `..` path segments before the
    worker sees the URL, so the signed path no longer matches and the request is refused. It must
    never write anything, under the literal key or the normalized one."""
    bucket = new_bucket()
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key=key, Body=b"must not land anywhere")
    assert excinfo.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "MethodNotAllowed")
    assert backend.keys(f"{bucket}/") == []
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]].count(bucket) == 1


def test_percent_encoded_path_is_decoded_once(raw, backend, bucket):
    """`%2F` in a path is a '/' in the key; `%2525` is a literal "%25"."""
    r = raw.request("PUT", f"/{bucket}/a%2Fb%3Fc%2525d", body=b"x")
    assert r.status_code == 200, describe(r)
    assert backend.keys(f"{bucket}/") == [f"{bucket}/a/b?c%25d"]
    g = raw.request("GET", f"/{bucket}/" + encode_key("a/b?c%25d"))
    assert g.status_code == 200, describe(g)
    assert g.content == b"x"


def test_longest_key(s3, backend, bucket, garage):
    """Keys may be as long as the node can store `<bucket>/<key>`: S3's 1024 bytes on most nodes,
    471 bytes of backend key on Garage with LMDB (the test node). One byte more is a clear
    KeyTooLongError naming the limit, never the node's own failure."""
    limit = garage.node_json()["max_key_bytes"] - len(bucket) - 1
    longest = "k" * limit
    s3.put_object(Bucket=bucket, Key=longest, Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key=longest)["Body"].read() == b"ok"
    assert backend.get(bucket, longest) == b"ok"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [longest]
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key=longest + "k", Body=b"no")
    assert excinfo.value.response["Error"]["Code"] == "KeyTooLongError"
    assert f"at most {limit} bytes" in excinfo.value.response["Error"]["Message"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [longest]


def test_too_long_key_is_key_too_long(raw, backend, bucket):
    r = raw.request("PUT", f"/{bucket}/" + "k" * 1025, body=b"no")
    assert_s3_error(r, 400, "KeyTooLongError")
    assert backend.keys(f"{bucket}/") == []
    # Bytes, not characters: 342 three-byte characters are 1026 bytes.
    r = raw.request("PUT", f"/{bucket}/" + encode_key("€" * 342), body=b"no")
    assert_s3_error(r, 400, "KeyTooLongError")
    assert backend.keys(f"{bucket}/") == []


# ---------------------------------------------------------------- transfer encoding


@pytest.mark.parametrize("range_header", [None, "bytes=0-9"])
def test_edge_compression_is_transparent(raw, s3, shared_bucket, range_header):
    """Cloudflare's front end (emulated by Miniflare) gzips responses of compressible types for
    clients that accept gzip. That must stay transparent: the decoded bytes are exactly the object
    (or the range), with the object's ETag. A non-compressible type goes out untouched, with its
    exact Content-Length."""
    key = unique_key("plain")
    stored = bytes(range(256)) * 16
    expected = stored[:10] if range_header else stored
    headers = {"Range": range_header} if range_header else {}
    accept = {"Accept-Encoding": "gzip, deflate, br"}
    etag = None
    for content_type in ("text/plain", "application/octet-stream"):
        raw.put(shared_bucket, key, stored, headers={"Content-Type": content_type})
        etag = etag or s3.head_object(Bucket=shared_bucket, Key=key)["ETag"]
        r = raw.request("GET", f"/{shared_bucket}/{key}", headers=headers, unsigned_headers=accept)
        assert r.status_code == (206 if range_header else 200), describe(r)
        assert r.content == expected, content_type
        assert r.headers["etag"].removeprefix("W/") == etag
        if content_type == "application/octet-stream":
            assert "content-encoding" not in r.headers, describe(r)
            assert r.headers.get("content-length") == str(len(expected)), describe(r)

def test_checksum_mode_returns_the_stored_checksum(s3, shared_bucket):
    body = b"checksummed " * 500
    put = s3.put_object(Bucket=shared_bucket, Key="checksummed", Body=body, ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=shared_bucket, Key="checksummed", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got.get("ChecksumSHA256") == put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    head = s3.head_object(Bucket=shared_bucket, Key="checksummed", ChecksumMode="ENABLED")
    assert head.get("ChecksumSHA256") == put["ChecksumSHA256"]


def test_get_object_attributes_is_not_implemented(raw, shared_bucket):
    raw.put(shared_bucket, "attrs", b"x")
    response = raw.request(
        "GET", f"/{shared_bucket}/attrs", query={"attributes": ""}, headers={"x-amz-object-attributes": "ETag"}
    )
    assert_s3_error(response, 501, "NotImplemented")
