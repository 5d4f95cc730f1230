"""Operations the walking skeleton does not serve yet answer 501 NotImplemented with an S3 error
document (never a 500, never a wrong success), and change nothing. Nonsense methods answer 405."""

from __future__ import annotations

import uuid
from email.utils import formatdate

import pytest
from botocore.exceptions import ClientError

from s3http import assert_s3_error, describe


@pytest.fixture(scope="module")
def nim_bucket(s3, raw, backend):
    name = f"it-nim-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    raw.put(name, "obj", b"untouched")
    raw.put(name, "obj2", b"untouched too")
    yield name
    backend.remove_bucket(name)


def assert_untouched(s3, backend, bucket):
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"untouched"
    assert backend.get(bucket, "obj") == b"untouched"
    assert backend.get(bucket, "obj2") == b"untouched too"
    assert sorted(backend.keys(f"{bucket}/")) == [f"{bucket}/obj", f"{bucket}/obj2"]


RAW_CASES = [
    ("GET", "", {"acl": None}, b""),
    ("PUT", "", {"acl": None}, b""),
    ("GET", "", {"policy": None}, b""),
    ("POST", "", {"cors": None}, b""),
    ("GET", "", {"lifecycle": None}, b""),
    ("GET", "", {"tagging": None}, b""),
    ("GET", "", {"website": None}, b""),
    ("GET", "", {"versions": None}, b""),
    ("PUT", "", {"versioning": None}, b'<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>'),
    ("GET", "/obj", {"acl": None}, b""),
    ("PUT", "/obj", {"acl": None}, b""),
    ("GET", "/obj", {"tagging": None}, b""),
    ("PUT", "/obj", {"tagging": None}, b'<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>'),
    ("DELETE", "/obj", {"tagging": None}, b""),
    ("GET", "/obj", {"attributes": None}, b""),
]


@pytest.mark.parametrize(
    "method,path,query,body", RAW_CASES, ids=[f"{m} {p or '/'}?{'&'.join(q)}" for m, p, q, _ in RAW_CASES]
)
def test_unimplemented_operations_answer_501(raw, s3, backend, nim_bucket, method, path, query, body):
    r = raw.request(method, f"/{nim_bucket}{path}", query=query, body=body)
    assert r.status_code != 500, describe(r)
    assert_s3_error(r, 501, "NotImplemented")
    assert_untouched(s3, backend, nim_bucket)


def test_boto3_sees_not_implemented(s3, backend, nim_bucket):
    calls = {
        "GetBucketAcl": lambda: s3.get_bucket_acl(Bucket=nim_bucket),
        "GetObjectAcl": lambda: s3.get_object_acl(Bucket=nim_bucket, Key="obj"),
        "PutObjectTagging": lambda: s3.put_object_tagging(
            Bucket=nim_bucket, Key="obj", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        ),
        "GetBucketPolicy": lambda: s3.get_bucket_policy(Bucket=nim_bucket),
        "ListObjectVersions": lambda: s3.list_object_versions(Bucket=nim_bucket),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as excinfo:
            call()
        response = excinfo.value.response
        assert response["Error"]["Code"] == "NotImplemented", (name, response)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 501, (name, response)
    assert_untouched(s3, backend, nim_bucket)


def test_unimplemented_requires_authentication_first(gateway, s3, backend, nim_bucket):
    """An anonymous request for an unimplemented operation is refused as unauthenticated."""
    import requests

    r = requests.get(f"{gateway.endpoint}/{nim_bucket}?acl")
    assert_s3_error(r, 403, "AccessDenied")
    assert_untouched(s3, backend, nim_bucket)


@pytest.mark.parametrize(
    "method,path",
    [("PATCH", ""), ("PATCH", "/obj"), ("POST", "/obj"), ("PUT", "ROOT"), ("DELETE", "ROOT")],
)
def test_methods_that_make_no_sense_are_method_not_allowed(raw, s3, backend, nim_bucket, method, path):
    target = "/" if path == "ROOT" else f"/{nim_bucket}{path}"
    r = raw.request(method, target, body=b"")
    assert_s3_error(r, 405, "MethodNotAllowed")
    assert_untouched(s3, backend, nim_bucket)


def test_sigv2_with_unknown_key_is_invalid_access_key_id(gateway, s3, backend, nim_bucket):
    import requests

    r = requests.get(
        f"{gateway.endpoint}/{nim_bucket}/obj",
        headers={"Authorization": "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "Date": formatdate(usegmt=True)},
    )
    assert_s3_error(r, 403, "InvalidAccessKeyId")
    assert b"untouched" not in r.content
