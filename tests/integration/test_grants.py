"""Access grants and the credential service, end to end: the admin API, registration, restricted
grants enforced on every operation (each denial followed by a read-back), revocation, presigned
URLs with curl and requests, SigV2 with s3cmd and boto3's v2 signer, and the portico CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import subprocess
import time
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

import stack
from conftest import OPERATOR, make_client, portico, restrict


def drop_last_caveat(grant: str) -> str:
    """Remove a project-scoped grant's last caveat and recompute the trailing checksum (the
    binary layout is documented in src/auth/grant.rs)."""
    raw = base64.urlsafe_b64decode(grant.removeprefix("portico1") + "=" * (-len(grant) % 4))
    body = raw[:-4]
    pos = 1
    (id_len,) = struct.unpack(">H", body[pos : pos + 2])
    pos += 2 + id_len + 16
    assert body[pos] == 0, "project-scoped grant expected"
    pos += 1 + 32
    (count,) = struct.unpack(">H", body[pos : pos + 2])
    caveats_start = pos + 2
    cursor, spans = caveats_start, []
    for _ in range(count):
        (length,) = struct.unpack(">H", body[cursor : cursor + 2])
        spans.append((cursor, cursor + 2 + length))
        cursor += 2 + length
    last_start, last_end = spans[-1]
    rebuilt = body[:pos] + struct.pack(">H", count - 1) + body[caveats_start:last_start] + body[last_end:]
    rebuilt += hashlib.sha256(rebuilt).digest()[:4]
    return "portico1" + base64.urlsafe_b64encode(rebuilt).decode().rstrip("=")


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def layout(s3):
    """A bucket with objects inside and outside a prefix, and a second bucket."""
    photos, other = f"gr-{uuid.uuid4().hex[:10]}", f"gr-{uuid.uuid4().hex[:10]}"
    for name in (photos, other):
        s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=photos, Key="2024/a.jpg", Body=b"inside")
    s3.put_object(Bucket=photos, Key="2024/07/b.jpg", Body=b"inside too")
    s3.put_object(Bucket=photos, Key="2023/c.jpg", Body=b"outside")
    s3.put_object(Bucket=other, Key="2024/a.jpg", Body=b"other bucket")
    yield {"photos": photos, "other": other}
    for name in (photos, other):
        for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def readonly(gateway, project, layout):
    """A client whose grant reads and lists only photos/2024/."""
    grant = restrict(project["access_grant"], "--readonly", "--bucket", layout["photos"], "--prefix", "2024/")
    creds = stack.register(gateway.endpoint, grant)
    return make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])


def test_restricted_grant_reads_and_lists_inside_its_prefix(readonly, layout):
    photos = layout["photos"]
    assert readonly.get_object(Bucket=photos, Key="2024/a.jpg")["Body"].read() == b"inside"
    assert readonly.head_object(Bucket=photos, Key="2024/07/b.jpg")["ContentLength"] == len(b"inside too")
    listed = readonly.list_objects_v2(Bucket=photos, Prefix="2024/")
    assert [o["Key"] for o in listed["Contents"]] == ["2024/07/b.jpg", "2024/a.jpg"]
    assert [b["Name"] for b in readonly.list_buckets()["Buckets"]] == [photos]


@pytest.mark.parametrize(
    "attempt",
    [
        "get_outside_prefix",
        "get_other_bucket",
        "list_whole_bucket",
        "list_other_prefix",
        "put_inside_prefix",
        "delete_inside_prefix",
        "create_bucket",
        "delete_bucket",
    ],
)
def test_restricted_grant_is_denied_everywhere_else(readonly, s3, layout, attempt):
    photos, other = layout["photos"], layout["other"]
    before = {
        (photos, "2024/a.jpg"): b"inside",
        (photos, "2023/c.jpg"): b"outside",
        (other, "2024/a.jpg"): b"other bucket",
    }
    calls = {
        "get_outside_prefix": lambda: readonly.get_object(Bucket=photos, Key="2023/c.jpg"),
        "get_other_bucket": lambda: readonly.get_object(Bucket=other, Key="2024/a.jpg"),
        "list_whole_bucket": lambda: readonly.list_objects_v2(Bucket=photos),
        "list_other_prefix": lambda: readonly.list_objects_v2(Bucket=photos, Prefix="2023/"),
        "put_inside_prefix": lambda: readonly.put_object(Bucket=photos, Key="2024/a.jpg", Body=b"overwritten"),
        "delete_inside_prefix": lambda: readonly.delete_object(Bucket=photos, Key="2024/a.jpg"),
        "create_bucket": lambda: readonly.create_bucket(Bucket=f"gr-new-{uuid.uuid4().hex[:8]}"),
        "delete_bucket": lambda: readonly.delete_bucket(Bucket=photos),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[attempt]()
    assert error_code(excinfo) == "AccessDenied"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Read back with the root credential: nothing changed.
    for (bucket, key), body in before.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {photos, other} <= names
    assert not any(name.startswith("gr-new-") for name in names)


def test_expiring_grant_stops_working(gateway, project, layout):
    expires_at = int(time.time()) + 2
    grant = restrict(project["access_grant"], "--not-after", str(expires_at))
    creds = stack.register(gateway.endpoint, grant)
    client = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    assert client.get_object(Bucket=layout["photos"], Key="2024/a.jpg")["Body"].read() == b"inside"
    time.sleep(max(0.0, expires_at - time.time() + 0.5))
    with pytest.raises(ClientError) as excinfo:
        client.get_object(Bucket=layout["photos"], Key="2024/a.jpg")
    assert error_code(excinfo) == "AccessDenied"


def test_tampered_or_widened_grants_are_refused_at_registration(gateway, project):
    root = project["access_grant"]
    narrowed = restrict(root, "--readonly")
    # Flip one character in the middle of the grant text.
    middle = len(narrowed) // 2
    flipped = narrowed[:middle] + ("A" if narrowed[middle] != "A" else "B") + narrowed[middle + 1 :]
    status, answer = stack.api_call("POST", f"{gateway.endpoint}/v1/access", {"access_grant": flipped})
    assert status == 400 and "error" in answer
    # Widening: drop the read-only caveat and fix up the checksum, as an attacker could. The
    # text parses, but the HMAC chain no longer verifies.
    widened = drop_last_caveat(narrowed)
    inspected = json.loads(portico("grant", "inspect", widened))
    assert inspected["caveats"] == [], inspected
    status, answer = stack.api_call("POST", f"{gateway.endpoint}/v1/access", {"access_grant": widened})
    assert status == 400 and "verification" in answer["error"], answer
    status, answer = stack.api_call("POST", f"{gateway.endpoint}/v1/access", {"access_grant": "portico1" + "A" * 80})
    assert status == 400
    status, answer = stack.api_call("POST", f"{gateway.endpoint}/v1/access", {"nope": 1})
    assert status == 400
    r = requests.post(f"{gateway.endpoint}/v1/access", data=b"{" + b" " * 20000 + b"}")
    assert r.status_code == 413 and "error" in r.json()


def test_admin_api_requires_the_token(gateway, garage):
    body = {"node": "local", "backend_bucket": garage.bucket}
    assert stack.api_call("POST", f"{gateway.endpoint}/v1/admin/projects", body, "wrong")[0] == 401
    assert stack.api_call("POST", f"{gateway.endpoint}/v1/admin/projects", body)[0] == 401
    status, answer = stack.api_call(
        "POST", f"{gateway.endpoint}/v1/admin/projects", {**body, "node": "missing"}, OPERATOR["PORTICO_ADMIN_TOKEN"]
    )
    assert status == 400 and "missing" in answer["error"]
    status, answer = stack.api_call(
        "POST", f"{gateway.endpoint}/v1/admin/projects", {**body, "id": "itest"}, OPERATOR["PORTICO_ADMIN_TOKEN"]
    )
    assert status == 409


def test_revocation_deletes_the_credential(gateway, project, layout):
    creds = stack.register(gateway.endpoint, project["access_grant"])
    client = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    client.head_bucket(Bucket=layout["photos"])
    url = f"{gateway.endpoint}/v1/access/{creds['access_key_id']}"
    assert stack.api_call("DELETE", url, None, "not-the-secret")[0] == 403
    client.head_bucket(Bucket=layout["photos"])
    assert stack.api_call("DELETE", url, None, creds["secret_key"])[0] == 204
    with pytest.raises(ClientError) as excinfo:
        client.list_buckets()
    assert error_code(excinfo) == "InvalidAccessKeyId"
    assert stack.api_call("DELETE", url, None, creds["secret_key"])[0] == 404


def test_presigned_put_and_get_with_curl_and_requests(s3, layout):
    bucket = layout["other"]
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned.txt"}, ExpiresIn=600)
    body_file = stack.ROOT / "tests" / ".work" / f"presigned-{uuid.uuid4().hex}.txt"
    body_file.write_bytes(b"uploaded with curl")
    try:
        out = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--upload-file", str(body_file), put_url],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        body_file.unlink()
    assert out.stdout == "200", out
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned.txt"}, ExpiresIn=600)
    assert requests.get(get_url).content == b"uploaded with curl"
    out = subprocess.run(["curl", "-sS", get_url], capture_output=True, check=True)
    assert out.stdout == b"uploaded with curl"
    # A presigned PUT URL cannot be replayed against another key.
    tampered = put_url.replace("presigned.txt", "elsewhere.txt")
    r = requests.put(tampered, data=b"x")
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="elsewhere.txt")
    s3.delete_object(Bucket=bucket, Key="presigned.txt")


def test_presigned_url_expiry_and_bounds(gateway, creds, layout):
    # boto3 presigns with SigV2 for this endpoint unless told otherwise; test both.
    bucket = layout["photos"]
    v4 = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"], signature_version="s3v4")
    v2 = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"], signature_version="s3")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "2024/a.jpg"}, ExpiresIn=1)
    assert "X-Amz-Signature=" in url
    v2_url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "2024/a.jpg"}, ExpiresIn=1)
    time.sleep(2)
    for expired in (url, v2_url):
        r = requests.get(expired)
        assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content and b"expired" in r.content
    too_long = v4.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "2024/a.jpg"}, ExpiresIn=8 * 24 * 3600
    )
    r = requests.get(too_long)
    assert r.status_code == 400 and b"AuthorizationQueryParametersError" in r.content


def test_sigv2_with_boto3_v2_signer(gateway, creds, layout, s3):
    from botocore.config import Config
    import boto3

    v2 = boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_key"],
        region_name="us-east-1",
        config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    bucket = layout["other"]
    v2.put_object(Bucket=bucket, Key="v2/object.txt", Body=b"signed with v2", ContentType="text/plain")
    assert v2.get_object(Bucket=bucket, Key="v2/object.txt")["Body"].read() == b"signed with v2"
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2/object.txt"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    assert requests.get(url).content == b"signed with v2"
    bad = boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key="wrong" * 8,
        region_name="us-east-1",
        config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as excinfo:
        bad.put_object(Bucket=bucket, Key="v2/object.txt", Body=b"overwritten")
    assert error_code(excinfo) == "SignatureDoesNotMatch"
    assert s3.get_object(Bucket=bucket, Key="v2/object.txt")["Body"].read() == b"signed with v2"
    s3.delete_object(Bucket=bucket, Key="v2/object.txt")


def test_sigv2_with_s3cmd(gateway, creds, layout, workdir):
    host = gateway.endpoint.removeprefix("http://")
    config = workdir / "s3cmd.cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {creds['access_key_id']}\n"
        f"secret_key = {creds['secret_key']}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        "use_https = False\n"
        "signature_v2 = True\n"
    )
    s3cmd = [str(stack.ROOT / ".venv" / "bin" / "s3cmd"), "-c", str(config)]
    source = workdir / "s3cmd-upload.txt"
    source.write_bytes(b"uploaded by s3cmd " * 100)
    bucket = layout["other"]
    subprocess.run([*s3cmd, "put", str(source), f"s3://{bucket}/s3cmd/file.txt"], check=True, capture_output=True)
    listing = subprocess.run([*s3cmd, "ls", f"s3://{bucket}/s3cmd/"], check=True, capture_output=True, text=True)
    assert f"s3://{bucket}/s3cmd/file.txt" in listing.stdout
    target = workdir / "s3cmd-download.txt"
    subprocess.run([*s3cmd, "get", "--force", f"s3://{bucket}/s3cmd/file.txt", str(target)], check=True, capture_output=True)
    assert target.read_bytes() == source.read_bytes()
    subprocess.run([*s3cmd, "del", f"s3://{bucket}/s3cmd/file.txt"], check=True, capture_output=True)


def test_cli_register_prints_working_configuration(gateway, project, layout):
    grant = restrict(project["access_grant"], "--readonly", "--bucket", layout["photos"])
    out = portico("register", grant, "--endpoint", gateway.endpoint, "--format", "env")
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if line.startswith("export "))
    assert env["AWS_ENDPOINT_URL"] == gateway.endpoint
    client = make_client(env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    assert client.get_object(Bucket=layout["photos"], Key="2024/a.jpg")["Body"].read() == b"inside"
    with pytest.raises(ClientError):
        client.put_object(Bucket=layout["photos"], Key="2024/new", Body=b"x")
    human = portico("register", grant, "--endpoint", gateway.endpoint)
    assert "aws" in human and "rclone" in human.lower()
    bad = subprocess.run([str(stack.portico_cli()), "grant", "restrict", "not-a-grant", "--readonly"], capture_output=True)
    assert bad.returncode != 0 and bad.stderr


def test_share_links_serve_public_credentials_anonymously(gateway, project, creds, layout):
    photos = layout["photos"]
    grant = restrict(project["access_grant"], "--readonly", "--bucket", photos, "--prefix", "2024/")
    public = stack.register(gateway.endpoint, grant, public=True)
    link = f"{gateway.endpoint}/s/{public['access_key_id']}/{photos}"
    r = requests.get(f"{link}/2024/a.jpg")
    assert r.status_code == 200 and r.content == b"inside"
    assert r.headers["ETag"]
    r = requests.get(f"{link}/2024/a.jpg", headers={"Range": "bytes=1-3"})
    assert r.status_code == 206 and r.content == b"nsi"
    assert requests.head(f"{link}/2024/07/b.jpg").status_code == 200
    # Outside the grant, a private credential, an unknown one: all AccessDenied, nothing revealed.
    for url in (
        f"{link}/2023/c.jpg",
        f"{gateway.endpoint}/s/{creds['access_key_id']}/{photos}/2024/a.jpg",
        f"{gateway.endpoint}/s/UNKNOWNUNKNOWNUNKNOWNUNKNOWN/{photos}/2024/a.jpg",
    ):
        r = requests.get(url)
        assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content, url
    r = requests.get(f"{link}/2024/missing.jpg")
    assert r.status_code == 404 and b"<Code>NoSuchKey</Code>" in r.content
    r = requests.put(f"{link}/2024/a.jpg", data=b"overwrite")
    assert r.status_code == 405
    assert requests.get(f"{link}/2024/a.jpg").content == b"inside"
    # A public credential still needs its secret for S3 requests.
    anonymous = requests.get(f"{gateway.endpoint}/{photos}/2024/a.jpg")
    assert anonymous.status_code == 403
