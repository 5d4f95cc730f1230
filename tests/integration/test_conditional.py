"""Conditional requests: reads (304 / 412 decided by the node as S3 does) and writes (If-None-Match: *
and If-Match on PutObject and CompleteMultipartUpload, decided by the gateway because the node
ignores them). Every refused write is followed by a read-back."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError


def status_and_code(excinfo):
    response = excinfo.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_conditional_reads(s3, raw, bucket):
    raw.put(bucket, "k", b"content")
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"content"
    for kwargs, expected in (
        ({"IfNoneMatch": etag}, (304, "304")),
        ({"IfMatch": '"other"'}, (412, "PreconditionFailed")),
        ({"IfModifiedSince": "2100-01-01T00:00:00Z"}, (304, "304")),
        ({"IfUnmodifiedSince": "2000-01-01T00:00:00Z"}, (412, "PreconditionFailed")),
    ):
        with pytest.raises(ClientError) as excinfo:
            s3.get_object(Bucket=bucket, Key="k", **kwargs)
        assert status_and_code(excinfo) == expected, kwargs
    # HEAD answers the same statuses without a body.
    r = raw.request("HEAD", f"/{bucket}/k", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    r = raw.request("HEAD", f"/{bucket}/k", headers={"If-Match": '"other"'})
    assert r.status_code == 412 and r.content == b""


def test_if_none_match_star_creates_only(s3, backend, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert status_and_code(excinfo) == (412, "PreconditionFailed")
    assert backend.get(bucket, "once") == b"first"


def test_if_match_overwrites_only_the_expected_version(s3, backend, bucket):
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="doc", Body=b"stale writer", IfMatch='"00000000000000000000000000000000"')
    assert status_and_code(excinfo) == (412, "PreconditionFailed")
    assert backend.get(bucket, "doc") == b"v1"
    s3.put_object(Bucket=bucket, Key="doc", Body=b"v2", IfMatch=first)
    assert backend.get(bucket, "doc") == b"v2"
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=first)
    assert status_and_code(excinfo) == (404, "NoSuchKey")
    assert backend.object(bucket, "absent") is None


def test_complete_multipart_upload_honours_if_none_match(s3, backend, bucket):
    s3.put_object(Bucket=bucket, Key="taken", Body=b"already here")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="taken")
    part = s3.upload_part(Bucket=bucket, Key="taken", UploadId=upload["UploadId"], PartNumber=1, Body=os.urandom(1024))
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="taken", UploadId=upload["UploadId"], IfNoneMatch="*",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    assert status_and_code(excinfo) == (412, "PreconditionFailed")
    assert backend.get(bucket, "taken") == b"already here"
    s3.abort_multipart_upload(Bucket=bucket, Key="taken", UploadId=upload["UploadId"])
