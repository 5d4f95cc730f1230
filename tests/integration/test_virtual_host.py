"""Virtual-hosted addressing: the worker is configured with base domain `s3.localhost`, so
`<bucket>.s3.localhost:<port>` names a bucket. `*.localhost` need not resolve on the test machine:
boto3 runs with a resolver that sends `*.localhost` to 127.0.0.1 (the Host header and the
signature keep the real name), and raw requests go to 127.0.0.1 with the Host header set."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import make_client
from s3http import S3_NS, assert_s3_error, describe, encode_key, md5_etag

BASE_DOMAIN = "s3.localhost"


@pytest.fixture
def localhost_resolves(monkeypatch):
    """Resolve `localhost` subdomains to 127.0.0.1 in this process, as browsers and systemd do."""
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def port(gateway):
    return urlsplit(gateway.endpoint).port


@pytest.fixture
def vs3(gateway, creds, port, localhost_resolves):
    """boto3 with virtual-hosted addressing against http://s3.localhost:<port>."""
    return make_client(
        f"http://{BASE_DOMAIN}:{port}", creds["access_key_id"], creds["secret_key"], addressing_style="virtual"
    )


def test_boto3_virtual_host_object_round_trip(vs3, s3, backend, bucket, port):
    hosts = []
    vs3.meta.events.register("before-send.s3", lambda request, **_: hosts.append(urlsplit(request.url).netloc))

    put = vs3.put_object(Bucket=bucket, Key="dir/virtual key+ü", Body=b"virtually hosted", ContentType="text/plain")
    assert put["ETag"] == md5_etag(b"virtually hosted")
    assert hosts[-1] == f"{bucket}.{BASE_DOMAIN}:{port}"  # really virtual-hosted

    got = vs3.get_object(Bucket=bucket, Key="dir/virtual key+ü")
    assert got["Body"].read() == b"virtually hosted"
    assert got["ContentType"] == "text/plain"
    ranged = vs3.get_object(Bucket=bucket, Key="dir/virtual key+ü", Range="bytes=0-8")
    assert ranged["Body"].read() == b"virtually"
    assert vs3.head_object(Bucket=bucket, Key="dir/virtual key+ü")["ContentLength"] == len(b"virtually hosted")

    listing = vs3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listing["Contents"]] == ["dir/virtual key+ü"]
    listing = vs3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/"]

    # Same object through path style and on the node.
    assert s3.get_object(Bucket=bucket, Key="dir/virtual key+ü")["Body"].read() == b"virtually hosted"
    assert backend.get(bucket, "dir/virtual key+ü") == b"virtually hosted"

    assert vs3.delete_object(Bucket=bucket, Key="dir/virtual key+ü")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backend.object(bucket, "dir/virtual key+ü") is None
    assert all(h == f"{bucket}.{BASE_DOMAIN}:{port}" for h in hosts), hosts


def test_boto3_virtual_host_bucket_lifecycle(vs3, backend, new_bucket):
    name = new_bucket(create=False)
    assert vs3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert backend.bucket_record(name) is not None
    vs3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in vs3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as excinfo:
        vs3.create_bucket(Bucket=name)
    assert excinfo.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    vs3.put_object(Bucket=name, Key="k", Body=b"v")
    with pytest.raises(ClientError) as excinfo:
        vs3.delete_bucket(Bucket=name)
    assert excinfo.value.response["Error"]["Code"] == "BucketNotEmpty"
    vs3.delete_object(Bucket=name, Key="k")
    assert vs3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert backend.bucket_record(name) is None


def test_boto3_virtual_host_missing_bucket(vs3, new_bucket):
    name = new_bucket(create=False)
    with pytest.raises(ClientError) as excinfo:
        vs3.get_object(Bucket=name, Key="k")
    assert excinfo.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as excinfo:
        vs3.list_objects_v2(Bucket=name)
    assert excinfo.value.response["Error"]["Code"] == "NoSuchBucket"


def test_boto3_virtual_host_presigned_get(vs3, s3, bucket):
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared virtually")
    url = vs3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=60)
    parts = urlsplit(url)
    assert parts.hostname == f"{bucket}.{BASE_DOMAIN}"
    # Sent to 127.0.0.1 with the signed host name in the Host header.
    r = requests.get(url.replace(parts.netloc, f"127.0.0.1:{parts.port}", 1), headers={"Host": parts.netloc})
    assert r.status_code == 200, describe(r)
    assert r.content == b"shared virtually"


def test_raw_virtual_host_get_put_list(raw, s3, backend, bucket, port):
    host = f"{bucket}.{BASE_DOMAIN}:{port}"
    key = "raw/vh key"
    r = raw.request("PUT", "/" + encode_key(key), body=b"raw virtual", host=host)
    assert r.status_code == 200, describe(r)
    assert backend.get(bucket, key) == b"raw virtual"

    g = raw.request("GET", "/" + encode_key(key), host=host)
    assert g.status_code == 200, describe(g)
    assert g.content == b"raw virtual"

    lst = raw.request("GET", "/", query={"list-type": "2"}, host=host)
    assert lst.status_code == 200, describe(lst)
    root = ET.fromstring(lst.content)
    assert root.findtext(f"{S3_NS}Name") == bucket
    assert [c.findtext(f"{S3_NS}Key") for c in root.findall(f"{S3_NS}Contents")] == [key]

    h = raw.request("HEAD", "/", host=host)
    assert h.status_code == 200, describe(h)

    d = raw.request("DELETE", "/" + encode_key(key), host=host)
    assert d.status_code == 204, describe(d)
    assert backend.object(bucket, key) is None


def test_raw_virtual_host_errors(raw, s3, bucket, port, new_bucket):
    host = f"{bucket}.{BASE_DOMAIN}:{port}"
    assert_s3_error(raw.request("GET", "/missing-key", host=host), 404, "NoSuchKey")
    missing = new_bucket(create=False)
    assert_s3_error(raw.request("GET", "/k", host=f"{missing}.{BASE_DOMAIN}:{port}"), 404, "NoSuchBucket")
    # Signed for the virtual host name, but sent with another Host: the signature cannot match.
    r = raw.request("GET", "/missing-key", host=host, unsigned_headers={"Host": f"other.{BASE_DOMAIN}:{port}"})
    assert_s3_error(r, 403, "SignatureDoesNotMatch")


def test_base_domain_itself_is_path_style(raw, s3, bucket, port):
    s3.put_object(Bucket=bucket, Key="p", Body=b"path style on the base domain")
    host = f"{BASE_DOMAIN}:{port}"
    r = raw.request("GET", f"/{bucket}/p", host=host)
    assert r.status_code == 200, describe(r)
    assert r.content == b"path style on the base domain"
    lb = raw.request("GET", "/", host=host)
    assert lb.status_code == 200, describe(lb)
    assert f"<Name>{bucket}</Name>" in lb.text


def test_virtual_host_is_case_insensitive(raw, s3, bucket, port):
    s3.put_object(Bucket=bucket, Key="case", Body=b"any case host")
    host = f"{bucket.upper()}.S3.LOCALHOST:{port}"
    r = raw.request("GET", "/case", host=host)
    assert r.status_code == 200, describe(r)
    assert r.content == b"any case host"
