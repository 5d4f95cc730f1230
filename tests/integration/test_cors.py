"""Bucket CORS: Put/Get/DeleteBucketCors, anonymous preflights answered from the configuration,
CORS headers on actual answers (errors included), and bucket names that are global across
projects (the index that lets an anonymous preflight find its bucket)."""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError

import s3http

RULES = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": ["https://app.example.com", "https://*.preview.example.com"],
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["x-amz-meta-colour"],
            "MaxAgeSeconds": 600,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
}


def preflight(gateway, path, origin, method, headers=None):
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return requests.options(f"{gateway.endpoint}{path}", headers=sent, timeout=30)


def test_configuration_round_trip_and_errors(s3, bucket, raw):
    with pytest.raises(ClientError) as err:
        s3.get_bucket_cors(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["AllowedOrigins"] == RULES["CORSRules"][0]["AllowedOrigins"]
    assert got[0]["MaxAgeSeconds"] == 600 and got[0]["ID"] == "app"
    assert got[1]["AllowedMethods"] == ["GET"]
    # Invalid documents are refused and leave the configuration as it was.
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    with pytest.raises(ClientError) as err:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=bad)
    assert err.value.response["Error"]["Code"] == "InvalidRequest"
    response = raw.request("PUT", f"/{bucket}", query={"cors": ""}, body=b"<CORSConfiguration><Nope/>")
    s3http.assert_s3_error(response, 400, "MalformedXML")
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 2
    with pytest.raises(ClientError) as err:
        s3.put_bucket_cors(Bucket="no-such-bucket-cors", CORSConfiguration=RULES)
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_cors(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def wait_for(condition, timeout=15.0):
    """Isolates cache CORS configurations for a few seconds (README): wait out a change."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_preflights_are_answered_from_the_configuration(gateway, s3, bucket):
    response = preflight(gateway, f"/{bucket}/k", "https://app.example.com", "PUT")
    s3http.assert_s3_error(response, 403, "AccessForbidden")
    assert "not enabled" in s3http.parse_error(response)["Message"]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)

    ok = wait_for(lambda: preflight(gateway, f"/{bucket}/k", "https://app.example.com", "PUT", "Content-Type, X-Amz-Date").status_code == 200)
    assert ok
    response = preflight(gateway, f"/{bucket}/k", "https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, PUT, HEAD"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers["Vary"]
    # A wildcard origin; virtual-host addressing; the catch-all rule for other origins' GETs.
    response = preflight(gateway, f"/{bucket}", "https://pr-7.preview.example.com", "HEAD")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "https://pr-7.preview.example.com"
    response = requests.options(
        f"{gateway.endpoint}/k",
        headers={"Host": f"{bucket}.s3.localhost", "Origin": "https://elsewhere.test", "Access-Control-Request-Method": "GET"},
        timeout=30,
    )
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"

    for origin, method, headers in [
        ("https://elsewhere.test", "PUT", None),  # origin only allowed to GET
        ("https://app.example.com", "DELETE", None),  # method not allowed
        ("https://app.example.com", "PUT", "authorization-x"),  # header not allowed
        ("http://app.example.com", "PUT", None),  # scheme differs
    ]:
        response = preflight(gateway, f"/{bucket}/k", origin, method, headers)
        s3http.assert_s3_error(response, 403, "AccessForbidden")
    response = requests.options(f"{gateway.endpoint}/{bucket}/k", headers={"Access-Control-Request-Method": "GET"}, timeout=30)
    s3http.assert_s3_error(response, 400, "BadRequest")
    response = preflight(gateway, "/no-such-bucket-anywhere/k", "https://app.example.com", "GET")
    s3http.assert_s3_error(response, 403, "AccessForbidden")


def test_actual_answers_carry_cors_headers(gateway, s3, raw, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    raw.put(bucket, "obj", b"cors body", headers={"x-amz-meta-colour": "teal"})
    origin = {"Origin": "https://app.example.com"}

    def get():
        return raw.request("GET", f"/{bucket}/obj", headers=origin)

    assert wait_for(lambda: "Access-Control-Allow-Origin" in get().headers)
    response = get()
    assert response.status_code == 200 and response.content == b"cors body"
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    exposed = [h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")]
    assert "etag" in exposed and "x-amz-meta-colour" in exposed and "x-amz-request-id" in exposed
    assert "Origin" in response.headers["Vary"]
    # Errors carry them too, so a browser script can read the S3 error.
    missing = raw.request("GET", f"/{bucket}/missing", headers=origin)
    s3http.assert_s3_error(missing, 404, "NoSuchKey")
    assert missing.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    denied = requests.get(f"{gateway.endpoint}/{bucket}/obj", headers=origin, timeout=30)
    assert denied.status_code == 403 and denied.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    # An origin no rule admits gets no Allow-Origin (the browser blocks), but still Vary.
    other = raw.request("PUT", f"/{bucket}/obj2", body=b"x", headers={"Origin": "https://evil.test"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]
    # Without an Origin, nothing CORS-related is added.
    assert "Access-Control-Allow-Origin" not in raw.request("GET", f"/{bucket}/obj").headers


def test_bucket_names_are_global_across_projects(s3, es3, bucket, backend):
    with pytest.raises(ClientError) as err:
        es3.create_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "BucketAlreadyExists"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
