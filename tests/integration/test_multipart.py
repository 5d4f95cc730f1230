"""Multipart uploads, CopyObject, UploadPartCopy and DeleteObjects through the gateway, with real
clients (boto3, the aws CLI) and read-backs from the node."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError

import s3http
import stack
from conftest import make_client, restrict

MIB = 1024 * 1024


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def upload_parts(s3, bucket, key, parts):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test", Metadata={"m": "1"})
    assert upload["Bucket"] == bucket and upload["Key"] == key
    etags = []
    for number, body in enumerate(parts, start=1):
        etags.append(s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=body)["ETag"])
    return upload["UploadId"], [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]


def test_multipart_round_trip(s3, backend, bucket):
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail" * 100]
    upload_id, completed = upload_parts(s3, bucket, "big/object.bin", parts)
    listed = s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [len(p) for p in parts]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("big/object.bin", upload_id)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big/object.bin", UploadId=upload_id, MultipartUpload={"Parts": completed}
    )
    assert done["Key"] == "big/object.bin" and done["Bucket"] == bucket
    assert done["ETag"].endswith('-3"')
    whole = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="big/object.bin")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(whole).digest()
    assert got["ETag"] == done["ETag"]
    assert got["ContentType"] == "application/x-test" and got["Metadata"] == {"m": "1"}
    assert s3.head_object(Bucket=bucket, Key="big/object.bin", PartNumber=2)["ContentLength"] == 5 * MIB
    assert backend.get(bucket, "big/object.bin") == whole
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_uploads_in_progress_are_listed_with_their_keys_exactly(s3, bucket):
    """Keys and common prefixes as they are, surrounding spaces included: a reader of the node's
    answer that trims text would list "trailing  " as "trailing"."""
    keys = ["trailing  ", "  leading", "dir /x ", "plain"]
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in keys}
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert sorted((u["Key"], u["UploadId"]) for u in listed) == sorted(ids.items())
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir /"]
    assert sorted(u["Key"] for u in grouped["Uploads"]) == sorted(k for k in keys if "/" not in k)
    parts = s3.list_parts(Bucket=bucket, Key="trailing  ", UploadId=ids["trailing  "])
    assert parts["Key"] == "trailing  " and parts.get("Parts", []) == []
    for key, upload_id in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_complete_refuses_small_parts_unknown_parts_and_bad_order(s3, backend, bucket):
    upload_id, completed = upload_parts(s3, bucket, "k", [b"small part", b"another small part"])
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": completed})
    assert code(excinfo) == "EntityTooSmall"
    bad_etag = [completed[0], {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": bad_etag})
    assert code(excinfo) == "InvalidPart"
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": list(reversed(completed))}
        )
    assert code(excinfo) == "InvalidPartOrder"
    # Nothing was assembled; the upload is still there and can be aborted.
    assert backend.object(bucket, "k") is None
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    with pytest.raises(ClientError) as excinfo:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert code(excinfo) == "NoSuchUpload"
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"late")
    assert code(excinfo) == "NoSuchUpload"


def test_single_part_upload_may_be_small(s3, bucket):
    upload_id, completed = upload_parts(s3, bucket, "one", [b"only part"])
    s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=upload_id, MultipartUpload={"Parts": completed})
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"only part"


@pytest.mark.parametrize("kind", ["plain", "encrypted"])
def test_aws_cli_multipart_copy_of_a_large_file(request, aws_env, workdir, kind):
    """`aws s3 cp` of a 50 MiB file up (multipart, 8 MiB parts, CRC32 checksums) and down."""
    if kind == "plain":
        creds, bucket, s3 = (request.getfixturevalue(n) for n in ("creds", "bucket", "s3"))
    else:
        creds, bucket, s3 = (request.getfixturevalue(n) for n in ("encrypted_creds", "encrypted_bucket", "es3"))
    # The CLI's defaults: ten transfers at a time, each part sent after `Expect: 100-continue`.
    env = dict(aws_env, AWS_ACCESS_KEY_ID=creds["access_key_id"], AWS_SECRET_ACCESS_KEY=creds["secret_key"])
    source = workdir / f"cli-{uuid.uuid4().hex}.bin"
    source.write_bytes(os.urandom(50 * MIB))
    aws = [str(stack.ROOT / ".venv" / "bin" / "aws"), "s3"]
    subprocess.run([*aws, "cp", str(source), f"s3://{bucket}/cli/large.bin"], env=env, check=True, capture_output=True)
    head = s3.head_object(Bucket=bucket, Key="cli/large.bin")
    assert head["ContentLength"] == 50 * MIB and "-" in head["ETag"]
    target = workdir / f"cli-{uuid.uuid4().hex}.out"
    subprocess.run([*aws, "cp", f"s3://{bucket}/cli/large.bin", str(target)], env=env, check=True, capture_output=True)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    source.unlink()
    target.unlink()


def test_copy_object_copy_and_replace_across_buckets(s3, backend, new_bucket):
    first, second = new_bucket(), new_bucket()
    s3.put_object(Bucket=first, Key="src", Body=b"copy me", ContentType="text/x-one", Metadata={"a": "1"})
    s3.copy_object(Bucket=second, Key="dst", CopySource={"Bucket": first, "Key": "src"})
    got = s3.get_object(Bucket=second, Key="dst")
    assert got["Body"].read() == b"copy me"
    assert got["ContentType"] == "text/x-one" and got["Metadata"] == {"a": "1"}
    s3.copy_object(
        Bucket=first,
        Key="replaced",
        CopySource={"Bucket": first, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="text/x-two",
        Metadata={"b": "2"},
    )
    got = s3.head_object(Bucket=first, Key="replaced")
    assert got["ContentType"] == "text/x-two" and got["Metadata"] == {"b": "2"}
    assert backend.get(second, "dst") == b"copy me"
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=second, Key="x", CopySource={"Bucket": first, "Key": "missing"})
    assert code(excinfo) == "NoSuchKey"
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=second, Key="x", CopySource={"Bucket": first, "Key": "src"}, CopySourceIfMatch='"nope"')
    assert code(excinfo) == "PreconditionFailed"
    assert backend.object(second, "x") is None


def test_upload_part_copy_with_range(s3, bucket):
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="assembled")
    first = s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=upload["UploadId"], PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )
    second = s3.upload_part(Bucket=bucket, Key="assembled", UploadId=upload["UploadId"], PartNumber=2, Body=b"end")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="assembled", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": second["ETag"]},
        ]},
    )
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source[: 5 * MIB] + b"end"


def test_delete_objects_quiet_and_verbose(s3, backend, bucket):
    for key in ("a", "b", "c/d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in verbose["Deleted"]) == ["a", "missing"]
    assert backend.object(bucket, "a") is None
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c/d"}], "Quiet": True})
    assert quiet.get("Deleted", []) == [] and quiet.get("Errors", []) == []
    assert backend.keys(f"{bucket}/") == []


MALFORMED_DELETES = [
    "<Delete>oops<Object><Key>a</Key></Object></Delete>",
    "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
    "<Delete><Object><Key>a<Part/></Key></Object></Delete>",
    '<!DOCTYPE d [<!ENTITY e "a">]><Delete><Object><Key>&e;</Key></Object></Delete>',
    "<Delete><Object><Key>a</Key></Object>",
    "<Objects><Object><Key>a</Key></Object></Objects>",
]


@pytest.mark.parametrize("document", MALFORMED_DELETES)
def test_a_malformed_delete_document_deletes_nothing(raw, s3, bucket, document):
    """Text beside elements, a key named twice, an element inside a key, a DOCTYPE, an unclosed
    or foreign root: MalformedXML, and every object is still there, byte for byte."""
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 3)
    body = document.encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = raw.request("POST", f"/{bucket}", query={"delete": None}, body=body, headers={"Content-MD5": md5})
    s3http.assert_s3_error(response, 400, "MalformedXML")
    for key in ("a", "b"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode() * 3


def test_a_malformed_complete_document_completes_nothing(raw, s3, backend, bucket):
    """A part naming its ETag twice, or text beside the parts: MalformedXML, nothing assembled,
    and the upload then completes with a well-formed document and reads back whole."""
    parts = [os.urandom(5 * MIB), b"tail"]
    upload_id, completed = upload_parts(s3, bucket, "assembled", parts)
    etags = [part["ETag"] for part in completed]
    for document in [
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{0}</ETag><ETag>{1}</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>{1}</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload>parts:<Part><PartNumber>1</PartNumber><ETag>{0}</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>{1}</ETag></Part></CompleteMultipartUpload>",
    ]:
        body = document.format(*etags).encode()
        response = raw.request("POST", f"/{bucket}/assembled", query={"uploadId": upload_id}, body=body)
        s3http.assert_s3_error(response, 400, "MalformedXML")
        assert backend.object(bucket, "assembled") is None
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload_id, MultipartUpload={"Parts": completed})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == b"".join(parts)


def test_delete_objects_checks_each_key_against_the_grant(gateway, project, s3, backend, bucket):
    for key in ("keep/1", "tmp/1", "tmp/2"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    creds = stack.register(gateway.endpoint, restrict(project["access_grant"], "--bucket", bucket, "--prefix", "tmp/"))
    limited = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    answer = limited.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tmp/1"}, {"Key": "keep/1"}, {"Key": "tmp/2"}]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["tmp/1", "tmp/2"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("keep/1", "AccessDenied")]
    assert backend.keys(f"{bucket}/") == [f"{bucket}/keep/1"]


def test_copy_needs_read_on_the_source(gateway, project, s3, backend, new_bucket):
    secret, open_bucket = new_bucket(), new_bucket()
    s3.put_object(Bucket=secret, Key="private", Body=b"secret")
    creds = stack.register(gateway.endpoint, restrict(project["access_grant"], "--bucket", open_bucket))
    limited = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    with pytest.raises(ClientError) as excinfo:
        limited.copy_object(Bucket=open_bucket, Key="stolen", CopySource={"Bucket": secret, "Key": "private"})
    assert code(excinfo) == "AccessDenied"
    assert backend.object(open_bucket, "stolen") is None
