"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket (and the two small
read-only bucket queries the gateway answers itself, GetBucketLocation and GetBucketVersioning),
checked through boto3, raw requests, and read-backs from the storage node."""

from __future__ import annotations

import datetime
import uuid

import pytest
from botocore.exceptions import ClientError

from s3http import assert_s3_error, describe


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------- ListBuckets


def test_list_buckets_shows_created_buckets_with_creation_dates(s3, new_bucket):
    before = datetime.datetime.now(datetime.timezone.utc)
    names = sorted([new_bucket(), new_bucket(), new_bucket()])
    listing = s3.list_buckets()
    assert listing["ResponseMetadata"]["HTTPStatusCode"] == 200
    listed = [b["Name"] for b in listing["Buckets"]]
    for name in names:
        assert listed.count(name) == 1, listed
    # S3 lists buckets in name order.
    assert listed == sorted(listed)
    by_name = {b["Name"]: b for b in listing["Buckets"]}
    for name in names:
        created = by_name[name]["CreationDate"]
        assert isinstance(created, datetime.datetime)
        # Second-granularity timestamps: allow for rounding and a little clock difference.
        assert before - datetime.timedelta(seconds=60) <= created <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=60)
    assert "Owner" in listing and listing["Owner"].get("ID"), listing.get("Owner")


def test_list_buckets_raw_is_xml_and_hides_backend_internals(raw, bucket):
    response = raw.request("GET", "/")
    assert response.status_code == 200, describe(response)
    assert "xml" in response.headers.get("content-type", "")
    body = response.text
    assert "<ListAllMyBucketsResult" in body
    assert f"<Name>{bucket}</Name>" in body
    # Neither the reserved record area nor the node's bucket appear to the client.
    assert ".portico" not in body
    assert "portico-dev" not in body


# ---------------------------------------------------------------- CreateBucket


def test_create_bucket_writes_a_bucket_record(s3, backend, new_bucket):
    name = new_bucket(create=False)
    assert backend.bucket_record(name) is None
    response = s3.create_bucket(Bucket=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response.get("Location") == f"/{name}"
    assert backend.bucket_record(name) is not None
    s3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_existing_bucket_is_already_owned_by_you(s3, raw, backend, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"still here")
    record_before = backend.bucket_record(bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=bucket)
    assert error_code(excinfo) == "BucketAlreadyOwnedByYou"
    assert status_of(excinfo) == 409

    assert_s3_error(raw.request("PUT", f"/{bucket}"), 409, "BucketAlreadyOwnedByYou")

    # Re-creating touched nothing: same record, objects still there.
    record_after = backend.bucket_record(bucket)
    assert record_after["ETag"] == record_before["ETag"]
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"still here"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]].count(bucket) == 1


@pytest.mark.parametrize(
    "name",
    [
        "UPPER",
        "Mixed-case",
        "ab",
        "a" * 64,
        "a..b",
        "192.168.1.1",
        "-leading-hyphen",
        "trailing-hyphen-",
        ".leading-dot",
        "under_score",
        "xn--punycode",
    ],
)
def test_invalid_bucket_names_are_refused(raw, s3, backend, name):
    response = raw.request("PUT", f"/{name}")
    assert_s3_error(response, 400, "InvalidBucketName")
    assert backend.bucket_record(name) is None
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_valid_unusual_bucket_names_are_accepted(s3, backend):
    tag = uuid.uuid4().hex[:8]
    names = [
        tag[:3],  # shortest
        ("0" + tag + "b" * 62)[:63],  # longest, starting with a digit
        f"dots.in.name.{tag}",
        f"1-2-3-{tag}",
    ]
    for name in names:
        try:
            s3.create_bucket(Bucket=name)
            assert backend.bucket_record(name) is not None
            s3.head_bucket(Bucket=name)
        finally:
            backend.remove_bucket(name)


# ---------------------------------------------------------------- HeadBucket


def test_head_bucket(s3, raw, bucket):
    response = s3.head_bucket(Bucket=bucket)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region") == "us-east-1"
    r = raw.request("HEAD", f"/{bucket}")
    assert r.status_code == 200, describe(r)
    assert r.content == b""


def test_head_missing_bucket_is_404(s3, raw, new_bucket):
    name = new_bucket(create=False)
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=name)
    assert status_of(excinfo) == 404
    r = raw.request("HEAD", f"/{name}")
    assert r.status_code == 404, describe(r)
    assert r.content == b""  # HEAD answers carry no body
    assert r.headers.get("x-amz-request-id")


# ---------------------------------------------------------------- small bucket queries


def test_get_bucket_location_and_versioning(s3, raw, bucket, new_bucket):
    location = s3.get_bucket_location(Bucket=bucket)
    # us-east-1 is reported as an empty LocationConstraint.
    assert location.get("LocationConstraint") in (None, "")
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    assert versioning["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Status" not in versioning  # never enabled

    missing = new_bucket(create=False)
    assert_s3_error(raw.request("GET", f"/{missing}", query={"location": None}), 404, "NoSuchBucket")
    assert_s3_error(raw.request("GET", f"/{missing}", query={"versioning": None}), 404, "NoSuchBucket")


# ---------------------------------------------------------------- DeleteBucket


def test_delete_empty_bucket(s3, raw, backend, new_bucket):
    name = new_bucket()
    assert backend.bucket_record(name) is not None
    r = raw.request("DELETE", f"/{name}")
    assert r.status_code == 204, describe(r)
    assert r.content == b""
    assert backend.bucket_record(name) is None
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=name)
    assert status_of(excinfo) == 404
    # The name is free again.
    s3.create_bucket(Bucket=name)
    s3.head_bucket(Bucket=name)


def test_delete_bucket_with_boto3(s3, backend, new_bucket):
    name = new_bucket()
    response = s3.delete_bucket(Bucket=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backend.bucket_record(name) is None


def test_delete_non_empty_bucket_is_refused_and_keeps_everything(s3, raw, backend, bucket):
    s3.put_object(Bucket=bucket, Key="dir/only-object", Body=b"precious")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(excinfo) == "BucketNotEmpty"
    assert status_of(excinfo) == 409
    assert_s3_error(raw.request("DELETE", f"/{bucket}"), 409, "BucketNotEmpty")

    # Read-back: bucket and object are both still there, through the gateway and on the node.
    s3.head_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket=bucket, Key="dir/only-object")["Body"].read() == b"precious"
    assert backend.bucket_record(bucket) is not None
    assert backend.get(bucket, "dir/only-object") == b"precious"


def test_delete_bucket_emptied_by_delete_object(s3, backend, new_bucket):
    name = new_bucket()
    s3.put_object(Bucket=name, Key="a", Body=b"1")
    s3.delete_object(Bucket=name, Key="a")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backend.bucket_record(name) is None


def test_delete_missing_bucket_is_no_such_bucket(s3, raw, new_bucket):
    name = new_bucket(create=False)
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=name)
    assert error_code(excinfo) == "NoSuchBucket"
    assert status_of(excinfo) == 404
    assert_s3_error(raw.request("DELETE", f"/{name}"), 404, "NoSuchBucket")


def test_bucket_name_prefix_does_not_leak_between_buckets(s3, backend, new_bucket):
    """`name` and `name-x` share a string prefix; deleting the first must not see the second's
    objects (and vice versa)."""
    first = new_bucket()
    second = f"{first}-x"
    s3.create_bucket(Bucket=second)
    try:
        s3.put_object(Bucket=second, Key="k", Body=b"in second")
        assert s3.delete_bucket(Bucket=first)["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert backend.bucket_record(second) is not None
        assert s3.get_object(Bucket=second, Key="k")["Body"].read() == b"in second"
    finally:
        backend.remove_bucket(second)
