"""Authentication: every refused request answers the right S3 error document and changes nothing
(read back through the node and the gateway afterwards); signed-payload integrity; UNSIGNED-PAYLOAD;
presigned URLs."""

from __future__ import annotations

import datetime
import os
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import make_client
from s3http import UNSIGNED_PAYLOAD, assert_s3_error, describe, sha256_hex, shifted_clock

SKEW = datetime.timedelta(minutes=20)


@pytest.fixture(scope="module")
def auth_bucket(s3, backend):
    name = f"it-auth-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    yield name
    backend.remove_bucket(name)


@pytest.fixture
def existing(raw, auth_bucket):
    """An object with known content that refused requests must leave alone."""
    key = f"existing-{uuid.uuid4().hex[:10]}"
    raw.put(auth_bucket, key, b"original content")
    return key


def fresh_key() -> str:
    return f"fresh-{uuid.uuid4().hex[:10]}"


def assert_unchanged(s3, backend, bucket, key):
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"original content"
    assert backend.get(bucket, key) == b"original content"


def assert_absent(backend, bucket, key):
    assert backend.object(bucket, key) is None, f"{bucket}/{key} was written by a refused request"


def refused_attempts(raw, bucket, existing, new_key, **sign):
    """GET, PUT over an existing object, PUT of a new key and DELETE, all with the same signing
    options; returns the four responses."""
    return {
        "get": raw.request("GET", f"/{bucket}/{existing}", **sign),
        "overwrite": raw.request("PUT", f"/{bucket}/{existing}", body=b"replaced by an attacker", **sign),
        "create": raw.request("PUT", f"/{bucket}/{new_key}", body=b"planted by an attacker", **sign),
        "delete": raw.request("DELETE", f"/{bucket}/{existing}", **sign),
    }


def check_refused(responses, status, code, s3, backend, bucket, existing, new_key):
    for name, response in responses.items():
        doc = assert_s3_error(response, status, code)
        assert b"original content" not in response.content, name
        assert doc["Code"] == code
    assert_unchanged(s3, backend, bucket, existing)
    assert_absent(backend, bucket, new_key)


# ---------------------------------------------------------------- the control case


def test_correctly_signed_requests_work(raw, s3, backend, auth_bucket):
    key = fresh_key()
    r = raw.request("PUT", f"/{auth_bucket}/{key}", body=b"signed body")
    assert r.status_code == 200, describe(r)
    g = raw.request("GET", f"/{auth_bucket}/{key}")
    assert g.status_code == 200, describe(g)
    assert g.content == b"signed body"
    assert backend.get(auth_bucket, key) == b"signed body"


# ---------------------------------------------------------------- wrong secret


def test_wrong_secret_is_signature_does_not_match(raw, s3, backend, auth_bucket, existing):
    new_key = fresh_key()
    responses = refused_attempts(raw, auth_bucket, existing, new_key, secret_key="not-the-secret-key-at-all")
    check_refused(responses, 403, "SignatureDoesNotMatch", s3, backend, auth_bucket, existing, new_key)


def test_wrong_secret_with_boto3(gateway, creds, s3, backend, auth_bucket, existing):
    bad = make_client(gateway.endpoint, creds["access_key_id"], "wrong" + creds["secret_key"][5:])
    new_key = fresh_key()
    for call in (
        lambda: bad.get_object(Bucket=auth_bucket, Key=existing),
        lambda: bad.put_object(Bucket=auth_bucket, Key=existing, Body=b"replaced"),
        lambda: bad.put_object(Bucket=auth_bucket, Key=new_key, Body=b"planted"),
        lambda: bad.list_objects_v2(Bucket=auth_bucket),
        lambda: bad.list_buckets(),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        # A PutObject is sent with `Expect: 100-continue`: the refusal comes before the body,
        # which the client then never sends.
        assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert_unchanged(s3, backend, auth_bucket, existing)
    assert_absent(backend, auth_bucket, new_key)


# ---------------------------------------------------------------- unknown key


def test_unknown_access_key_is_invalid_access_key_id(raw, s3, backend, auth_bucket, existing):
    new_key = fresh_key()
    responses = refused_attempts(
        raw, auth_bucket, existing, new_key, access_key="AKIAUNKNOWNUNKNOWNUNKNOWN123", secret_key="whatever"
    )
    check_refused(responses, 403, "InvalidAccessKeyId", s3, backend, auth_bucket, existing, new_key)


# ---------------------------------------------------------------- no authentication


def test_anonymous_requests_are_access_denied(gateway, s3, backend, auth_bucket, existing):
    new_key = fresh_key()
    base = gateway.endpoint
    responses = {
        "list buckets": requests.get(f"{base}/"),
        "list objects": requests.get(f"{base}/{auth_bucket}?list-type=2"),
        "get": requests.get(f"{base}/{auth_bucket}/{existing}"),
        "overwrite": requests.put(f"{base}/{auth_bucket}/{existing}", data=b"replaced"),
        "create": requests.put(f"{base}/{auth_bucket}/{new_key}", data=b"planted"),
        "delete object": requests.delete(f"{base}/{auth_bucket}/{existing}"),
        "delete bucket": requests.delete(f"{base}/{auth_bucket}"),
    }
    for name, response in responses.items():
        assert_s3_error(response, 403, "AccessDenied")
        assert b"original content" not in response.content, name
    h = requests.head(f"{base}/{auth_bucket}/{existing}")
    assert h.status_code == 403, describe(h)
    assert h.content == b""
    anon_bucket = f"it-anon-{uuid.uuid4().hex[:8]}"
    assert_s3_error(requests.put(f"{base}/{anon_bucket}"), 403, "AccessDenied")

    assert_unchanged(s3, backend, auth_bucket, existing)
    assert_absent(backend, auth_bucket, new_key)
    assert backend.bucket_record(auth_bucket) is not None
    assert backend.bucket_record(anon_bucket) is None


# ---------------------------------------------------------------- clock skew


@pytest.mark.parametrize("direction", [1, -1], ids=["ahead", "behind"])
def test_clock_skew_over_fifteen_minutes_is_refused(raw, s3, backend, auth_bucket, existing, direction):
    new_key = fresh_key()
    responses = refused_attempts(raw, auth_bucket, existing, new_key, clock_offset=direction * SKEW)
    check_refused(responses, 403, "RequestTimeTooSkewed", s3, backend, auth_bucket, existing, new_key)


def test_clock_skew_within_fifteen_minutes_is_accepted(raw, backend, auth_bucket):
    for minutes in (-10, 10):
        key = fresh_key()
        r = raw.request("PUT", f"/{auth_bucket}/{key}", body=b"slightly off", clock_offset=datetime.timedelta(minutes=minutes))
        assert r.status_code == 200, describe(r)
        assert backend.get(auth_bucket, key) == b"slightly off"


# ---------------------------------------------------------------- expired credential


def test_expired_credential_is_access_denied(raw, seeds, s3, backend, auth_bucket, existing):
    expired = seeds["expired"]["credential"]
    new_key = fresh_key()
    responses = refused_attempts(
        raw, auth_bucket, existing, new_key, access_key=expired["access_key_id"], secret_key=expired["secret_key"]
    )
    check_refused(responses, 403, "AccessDenied", s3, backend, auth_bucket, existing, new_key)


# ---------------------------------------------------------------- tampering


def test_tampered_body_is_content_sha256_mismatch(raw, s3, backend, auth_bucket, existing):
    signed = b"the body that was signed!"
    sent = b"the body that was SENT!!!"
    assert len(signed) == len(sent)
    r = raw.request("PUT", f"/{auth_bucket}/{existing}", body=signed, send_body=sent)
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_unchanged(s3, backend, auth_bucket, existing)

    new_key = fresh_key()
    r = raw.request("PUT", f"/{auth_bucket}/{new_key}", body=signed, send_body=sent)
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_absent(backend, auth_bucket, new_key)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_tampered_large_body_is_never_committed(raw, s3, backend, auth_bucket, existing, where):
    """A multi-MiB body whose single changed byte is only detectable after the whole stream has
    passed: the previous object must survive."""
    signed = os.urandom(3 * 1024 * 1024 + 17)
    position = {"first": 0, "middle": len(signed) // 2, "last": len(signed) - 1}[where]
    sent = bytearray(signed)
    sent[position] ^= 0xFF
    r = raw.request("PUT", f"/{auth_bucket}/{existing}", body=signed, send_body=bytes(sent))
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_unchanged(s3, backend, auth_bucket, existing)


def test_malformed_content_sha256_is_refused(raw, s3, backend, auth_bucket, existing):
    r = raw.request("PUT", f"/{auth_bucket}/{existing}", body=b"whatever", payload_hash="not-a-hash")
    assert r.status_code in (400, 403), describe(r)
    assert_s3_error(r, r.status_code, {400: "InvalidArgument", 403: "SignatureDoesNotMatch"}[r.status_code])
    assert_unchanged(s3, backend, auth_bucket, existing)


def test_request_signed_for_another_key_does_not_match(raw, gateway, s3, backend, auth_bucket, existing):
    """Signature made for one path, request sent to another."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    new_key = fresh_key()
    netloc = urlsplit(gateway.endpoint).netloc
    aws_request = AWSRequest(method="PUT", url=f"http://{netloc}/{auth_bucket}/{new_key}-signed", data=b"payload")
    S3SigV4Auth(Credentials(raw.access_key, raw.secret_key), "s3", "us-east-1").add_auth(aws_request)
    r = requests.put(f"{gateway.endpoint}/{auth_bucket}/{new_key}", headers=dict(aws_request.headers.items()), data=b"payload")
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    assert_absent(backend, auth_bucket, new_key)
    assert_absent(backend, auth_bucket, new_key + "-signed")


def test_changed_signed_header_does_not_match(raw, s3, backend, auth_bucket, existing):
    r = raw.request(
        "PUT",
        f"/{auth_bucket}/{existing}",
        body=b"x",
        headers={"Content-Type": "text/plain"},
        unsigned_headers={"Content-Type": "text/html"},
    )
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    assert_unchanged(s3, backend, auth_bucket, existing)


def test_unsigned_amz_header_is_refused(raw, s3, backend, auth_bucket, existing):
    """S3 requires every x-amz-* header to be signed: one added afterwards is AccessDenied."""
    r = raw.request("PUT", f"/{auth_bucket}/{existing}", body=b"x", unsigned_headers={"x-amz-meta-injected": "yes"})
    assert_s3_error(r, 403, "AccessDenied")
    assert_unchanged(s3, backend, auth_bucket, existing)
    assert "injected" not in backend.object(auth_bucket, existing)["Metadata"]


# ---------------------------------------------------------------- UNSIGNED-PAYLOAD


def test_unsigned_payload_put_works(raw, s3, backend, auth_bucket):
    key = fresh_key()
    body = os.urandom(256 * 1024)
    r = raw.request("PUT", f"/{auth_bucket}/{key}", body=body, payload_hash=UNSIGNED_PAYLOAD)
    assert r.status_code == 200, describe(r)
    assert r.request.headers["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
    assert s3.get_object(Bucket=auth_bucket, Key=key)["Body"].read() == body
    assert backend.get(auth_bucket, key) == body


def test_unsigned_payload_put_with_boto3(gateway, creds, backend, auth_bucket):
    # make_client owns the `s3` config key (addressing style); build the client directly.
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path", "payload_signing_enabled": False}, retries={"max_attempts": 1}),
    )
    seen = {}

    def record(request, **_):
        seen.setdefault("sha", request.headers.get("X-Amz-Content-SHA256"))  # returns None: send as usual

    client.meta.events.register("before-send.s3.PutObject", record)
    key = fresh_key()
    client.put_object(Bucket=auth_bucket, Key=key, Body=b"unsigned via boto3")
    assert seen["sha"] in (b"UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD")
    assert backend.get(auth_bucket, key) == b"unsigned via boto3"


def test_signed_payload_hash_is_what_boto3_sends(gateway, creds, backend, auth_bucket):
    """The default client signs the payload over plain HTTP; check the gateway agrees with it."""
    client = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])
    seen = {}

    def record(request, **_):
        seen.setdefault("sha", request.headers.get("X-Amz-Content-SHA256"))  # returns None: send as usual

    client.meta.events.register("before-send.s3.PutObject", record)
    key = fresh_key()
    body = b"boto3 signed body"
    client.put_object(Bucket=auth_bucket, Key=key, Body=body)
    sha = seen["sha"].decode() if isinstance(seen["sha"], bytes) else seen["sha"]
    assert sha == sha256_hex(body)
    assert backend.get(auth_bucket, key) == body


# ---------------------------------------------------------------- presigned URLs

# boto3's default S3 presigner writes SigV2 query URLs (AWSAccessKeyId, Expires, Signature) for a
# custom endpoint; signature_version="s3v4" writes SigV4 ones (X-Amz-*). Both must work.
PRESIGNERS = {"default": {}, "s3v4": {"signature_version": "s3v4"}}


@pytest.fixture(params=list(PRESIGNERS))
def presigner(request, gateway, creds):
    return make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"], **PRESIGNERS[request.param])


def presigner_for(name, gateway, access_key, secret_key):
    return make_client(gateway.endpoint, access_key, secret_key, **PRESIGNERS[name])


def test_presigned_get_works_with_plain_requests(presigner, auth_bucket, existing):
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    assert "Signature=" in url
    r = requests.get(url)
    assert r.status_code == 200, describe(r)
    assert r.content == b"original content"
    assert r.headers.get("etag")


def test_presigned_head_and_ranged_get(presigner, auth_bucket, existing):
    url = presigner.generate_presigned_url("head_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    r = requests.head(url)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("content-length") == str(len(b"original content"))
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    r = requests.get(url, headers={"Range": "bytes=0-7", "Accept-Encoding": "identity"})
    assert r.status_code == 206, describe(r)
    assert r.content == b"original"


def test_presigned_get_with_awkward_key(presigner, s3, auth_bucket):
    key = f"presigned/ü space+plus%percent?q#h/{uuid.uuid4().hex[:6]}"
    s3.put_object(Bucket=auth_bucket, Key=key, Body=b"awkward")
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": key}, ExpiresIn=300)
    r = requests.get(url)
    assert r.status_code == 200, describe(r)
    assert r.content == b"awkward"


def test_presigned_get_with_response_overrides(presigner, auth_bucket, existing):
    url = presigner.generate_presigned_url(
        "get_object",
        Params={"Bucket": auth_bucket, "Key": existing, "ResponseContentDisposition": 'attachment; filename="x.bin"'},
        ExpiresIn=300,
    )
    r = requests.get(url)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("content-disposition") == 'attachment; filename="x.bin"'


def test_presigned_put_works(presigner, backend, auth_bucket):
    key = fresh_key()
    url = presigner.generate_presigned_url("put_object", Params={"Bucket": auth_bucket, "Key": key}, ExpiresIn=300)
    r = requests.put(url, data=b"uploaded with a presigned URL")
    assert r.status_code == 200, describe(r)
    assert backend.get(auth_bucket, key) == b"uploaded with a presigned URL"


def test_presigned_put_with_signed_content_type(presigner, s3, backend, auth_bucket):
    key = fresh_key()
    url = presigner.generate_presigned_url(
        "put_object", Params={"Bucket": auth_bucket, "Key": key, "ContentType": "text/csv"}, ExpiresIn=300
    )
    r = requests.put(url, data=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, describe(r)
    assert backend.get(auth_bucket, key) == b"a,b\n1,2\n"
    assert s3.head_object(Bucket=auth_bucket, Key=key)["ContentType"] == "text/csv"


def test_expired_presigned_url_is_access_denied(presigner, auth_bucket, existing):
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=1)
    time.sleep(2.1)
    r = requests.get(url)
    assert_s3_error(r, 403, "AccessDenied")
    assert b"original content" not in r.content


def test_expired_presigned_put_writes_nothing(presigner, s3, backend, auth_bucket, existing):
    with shifted_clock(-datetime.timedelta(seconds=30)):
        url = presigner.generate_presigned_url(
            "put_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=10
        )
    r = requests.put(url, data=b"too late")
    assert_s3_error(r, 403, "AccessDenied")
    assert_unchanged(s3, backend, auth_bucket, existing)


def test_tampered_presigned_urls_do_not_match(presigner, s3, backend, auth_bucket, existing):
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    sig_name = "X-Amz-Signature" if "X-Amz-Signature" in query else "Signature"
    expires_name = "X-Amz-Expires" if "X-Amz-Expires" in query else "Expires"

    # A different signature.
    sig = query[sig_name]
    forged = dict(query, **{sig_name: ("0" if sig[0] != "0" else "1") + sig[1:]})
    r = requests.get(urlunsplit(parts._replace(query=urlencode(forged))))
    assert_s3_error(r, 403, "SignatureDoesNotMatch")

    # A longer lifetime than signed.
    longer = dict(query, **{expires_name: str(int(query[expires_name]) + 1000)})
    r = requests.get(urlunsplit(parts._replace(query=urlencode(longer))))
    assert_s3_error(r, 403, "SignatureDoesNotMatch")

    # Another object than signed.
    r = requests.get(urlunsplit(parts._replace(path=parts.path + "-other")))
    assert_s3_error(r, 403, "SignatureDoesNotMatch")

    # PUT with a URL presigned for GET.
    r = requests.put(url, data=b"sneaky")
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    assert_unchanged(s3, backend, auth_bucket, existing)


@pytest.mark.parametrize("scheme", list(PRESIGNERS))
def test_presigned_url_with_wrong_secret_or_expired_credential(scheme, gateway, creds, seeds, auth_bucket, existing):
    wrong = presigner_for(scheme, gateway, creds["access_key_id"], "x" * 40)
    url = wrong.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    assert_s3_error(requests.get(url), 403, "SignatureDoesNotMatch")

    expired = seeds["expired"]["credential"]
    old = presigner_for(scheme, gateway, expired["access_key_id"], expired["secret_key"])
    url = old.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    assert_s3_error(requests.get(url), 403, "AccessDenied")

    unknown = presigner_for(scheme, gateway, "AKIAUNKNOWNUNKNOWNUNKNOWN123", "x" * 40)
    url = unknown.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    assert_s3_error(requests.get(url), 403, "InvalidAccessKeyId")


# ---------------------------------------------------------------- SigV2 headers


def test_sigv2_header_auth_round_trip(gateway, creds, backend, auth_bucket):
    v2 = make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"], signature_version="s3")
    key = fresh_key()
    v2.put_object(Bucket=auth_bucket, Key=key, Body=b"v2 body", Metadata={"m": "1"})
    assert backend.get(auth_bucket, key) == b"v2 body"
    got = v2.get_object(Bucket=auth_bucket, Key=key)
    assert got["Body"].read() == b"v2 body"
    assert got["Metadata"] == {"m": "1"}
    assert key in [o["Key"] for o in v2.list_objects(Bucket=auth_bucket, Prefix=key)["Contents"]]
    v2.delete_object(Bucket=auth_bucket, Key=key)
    assert backend.object(auth_bucket, key) is None


def test_sigv2_header_auth_wrong_secret(gateway, creds, s3, backend, auth_bucket, existing):
    v2 = make_client(gateway.endpoint, creds["access_key_id"], "x" * 40, signature_version="s3")
    new_key = fresh_key()
    for call in (
        lambda: v2.get_object(Bucket=auth_bucket, Key=existing),
        lambda: v2.put_object(Bucket=auth_bucket, Key=existing, Body=b"replaced"),
        lambda: v2.put_object(Bucket=auth_bucket, Key=new_key, Body=b"planted"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert excinfo.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert_unchanged(s3, backend, auth_bucket, existing)
    assert_absent(backend, auth_bucket, new_key)


def test_header_and_query_auth_together_is_refused(presigner, raw, auth_bucket, existing):
    """S3: "Only one auth mechanism allowed" (InvalidArgument), whichever two are combined."""
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": auth_bucket, "Key": existing}, ExpiresIn=300)
    signed = raw.request("GET", f"/{auth_bucket}/{existing}")  # for a valid Authorization header
    r = requests.get(url, headers={"Authorization": signed.request.headers["Authorization"]})
    assert_s3_error(r, 400, "InvalidArgument")
    assert b"original content" not in r.content
