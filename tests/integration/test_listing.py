"""ListObjectsV2 and ListObjects (v1): prefix, delimiter and common prefixes, max-keys, paging
with continuation tokens and markers, start-after, isolation between buckets."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from s3http import S3_NS, assert_s3_error, describe, md5_etag

TREE = [
    "a/1",
    "a/2",
    "a/x/1",
    "a/x/2",
    "a/y/1",
    "b/1",
    "b/2",
    "c",
    "d/",
    "e.txt",
]


@pytest.fixture(scope="module")
def tree_bucket(s3, raw, backend):
    """A bucket with a small fixed tree, shared read-only by the listing tests."""
    name = f"it-list-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for key in TREE:
        raw.put(name, key, key.encode())
    yield name
    backend.remove_bucket(name)


@pytest.fixture(scope="module")
def paged_bucket(s3, raw, backend):
    """25 keys k00..k24 for paging."""
    name = f"it-page-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for i in range(25):
        raw.put(name, f"k{i:02d}", str(i).encode())
    yield name
    backend.remove_bucket(name)


PAGED_KEYS = [f"k{i:02d}" for i in range(25)]


def keys_of(page) -> list[str]:
    return [o["Key"] for o in page.get("Contents", [])]


def prefixes_of(page) -> list[str]:
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


# ---------------------------------------------------------------- V2


def test_list_v2_everything(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket)
    assert page["Name"] == tree_bucket
    assert keys_of(page) == sorted(TREE)
    assert page["KeyCount"] == len(TREE)
    assert page["IsTruncated"] is False
    assert "NextContinuationToken" not in page
    assert page["MaxKeys"] == 1000
    for obj in page["Contents"]:
        assert obj["Size"] == len(obj["Key"].encode())
        assert obj["ETag"] == md5_etag(obj["Key"].encode())
        assert obj["LastModified"]
        assert obj.get("StorageClass") == "STANDARD"
        assert "Owner" not in obj  # V2 names owners only with fetch-owner=true


def test_list_v2_prefix(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="a/")
    assert keys_of(page) == ["a/1", "a/2", "a/x/1", "a/x/2", "a/y/1"]
    assert page["Prefix"] == "a/"
    assert page["KeyCount"] == 5
    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="a/x")
    assert keys_of(page) == ["a/x/1", "a/x/2"]
    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="nothing-here/")
    assert keys_of(page) == []
    assert page["KeyCount"] == 0
    assert page["IsTruncated"] is False


def test_list_v2_delimiter_gives_common_prefixes(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket, Delimiter="/")
    assert keys_of(page) == ["c", "e.txt"]
    assert prefixes_of(page) == ["a/", "b/", "d/"]
    assert page["Delimiter"] == "/"
    assert page["KeyCount"] == 5  # keys and common prefixes both count

    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="a/", Delimiter="/")
    assert keys_of(page) == ["a/1", "a/2"]
    assert prefixes_of(page) == ["a/x/", "a/y/"]

    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="d/", Delimiter="/")
    assert keys_of(page) == ["d/"]
    assert prefixes_of(page) == []


def test_list_v2_other_delimiter(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket, Delimiter=".")
    assert prefixes_of(page) == ["e."]
    assert "e.txt" not in keys_of(page)
    assert len(keys_of(page)) == len(TREE) - 1


def test_list_v2_max_keys(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket, MaxKeys=3)
    assert keys_of(page) == sorted(TREE)[:3]
    assert page["IsTruncated"] is True
    assert page["KeyCount"] == 3
    assert page["MaxKeys"] == 3
    assert page["NextContinuationToken"]

    # max-keys counts common prefixes too.
    page = s3.list_objects_v2(Bucket=tree_bucket, Delimiter="/", MaxKeys=2)
    assert prefixes_of(page) == ["a/", "b/"]
    assert keys_of(page) == []
    assert page["IsTruncated"] is True
    assert page["KeyCount"] == 2


def test_list_v2_max_keys_zero(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket, MaxKeys=0)
    assert keys_of(page) == []
    assert page["KeyCount"] == 0
    assert page["MaxKeys"] == 0


def test_list_v2_pages_with_continuation_tokens(s3, paged_bucket):
    seen = []
    token = None
    pages = 0
    while True:
        kwargs = {"Bucket": paged_bucket, "MaxKeys": 10}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        seen.extend(keys_of(page))
        assert page["KeyCount"] == len(keys_of(page))
        if token:
            assert page["ContinuationToken"] == token
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
        assert token
        assert pages < 10, "listing does not terminate"
    assert pages == 3
    assert seen == PAGED_KEYS  # every key exactly once, in order


def test_full_pages_of_a_thousand_keys(s3, raw, new_bucket):
    """Pages as large as S3 makes them (1000 keys, the default max-keys), sizes and ETags intact,
    keys needing XML escaping among them: the node's listing document is read whole, decoded
    and re-written per page."""
    bucket = new_bucket()
    keys = [f"k{i:04d}" for i in range(1000)] + ["k0500 & <\"quoted\">", "zz/\u00e9t\u00e9/\U0001f600"]
    bodies = {key: f"body of {key}".encode() for key in keys}
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda key: raw.put(bucket, key, bodies[key]), keys))

    first = s3.list_objects_v2(Bucket=bucket)
    assert first["IsTruncated"] and first["KeyCount"] == 1000 and first["MaxKeys"] == 1000
    second = s3.list_objects_v2(Bucket=bucket, ContinuationToken=first["NextContinuationToken"])
    assert not second["IsTruncated"] and second["KeyCount"] == len(keys) - 1000
    listed = first["Contents"] + second["Contents"]
    assert [o["Key"] for o in listed] == sorted(keys)
    assert all(o["Size"] == len(bodies[o["Key"]]) and o["ETag"] == md5_etag(bodies[o["Key"]]) for o in listed)

    v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(Bucket=bucket) for o in page["Contents"]]
    assert v1 == sorted(keys)


def test_list_v2_paginator_with_delimiter(s3, tree_bucket):
    keys, prefixes = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=tree_bucket, Delimiter="/", PaginationConfig={"PageSize": 1}
    ):
        keys.extend(keys_of(page))
        prefixes.extend(prefixes_of(page))
    assert keys == ["c", "e.txt"]
    assert prefixes == ["a/", "b/", "d/"]


def test_list_v2_start_after(s3, paged_bucket, tree_bucket):
    page = s3.list_objects_v2(Bucket=paged_bucket, StartAfter="k19")
    assert keys_of(page) == PAGED_KEYS[20:]
    assert page["StartAfter"] == "k19"
    # start-after need not be an existing key.
    page = s3.list_objects_v2(Bucket=paged_bucket, StartAfter="k195")
    assert keys_of(page) == PAGED_KEYS[20:]
    page = s3.list_objects_v2(Bucket=paged_bucket, StartAfter="k24")
    assert keys_of(page) == []
    # Before everything: all keys.
    page = s3.list_objects_v2(Bucket=paged_bucket, StartAfter="a")
    assert keys_of(page) == PAGED_KEYS
    # Combined with prefix and max-keys.
    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="a/", StartAfter="a/2", MaxKeys=2)
    assert keys_of(page) == ["a/x/1", "a/x/2"]
    assert page["IsTruncated"] is True


def test_list_v2_fetch_owner(s3, tree_bucket):
    page = s3.list_objects_v2(Bucket=tree_bucket, Prefix="c", FetchOwner=True)
    assert keys_of(page) == ["c"]
    assert page["Contents"][0].get("Owner", {}).get("ID")


def test_list_v2_raw_xml(raw, tree_bucket):
    r = raw.request("GET", f"/{tree_bucket}", query={"list-type": "2", "prefix": "a/", "delimiter": "/"})
    assert r.status_code == 200, describe(r)
    assert "xml" in r.headers.get("content-type", "")
    root = ET.fromstring(r.content)
    assert root.tag == f"{S3_NS}ListBucketResult"
    assert root.findtext(f"{S3_NS}Name") == tree_bucket
    assert root.findtext(f"{S3_NS}Prefix") == "a/"
    assert root.findtext(f"{S3_NS}KeyCount") == "4"
    assert root.findtext(f"{S3_NS}IsTruncated") == "false"
    assert [e.findtext(f"{S3_NS}Key") for e in root.findall(f"{S3_NS}Contents")] == ["a/1", "a/2"]
    assert [e.findtext(f"{S3_NS}Prefix") for e in root.findall(f"{S3_NS}CommonPrefixes")] == ["a/x/", "a/y/"]
    # The backend's layout never shows: no bucket prefix in keys, no node bucket name.
    assert f"{tree_bucket}/a" not in r.text


def test_list_bad_arguments(raw, tree_bucket):
    assert_s3_error(raw.request("GET", f"/{tree_bucket}", query={"list-type": "2", "max-keys": "-1"}), 400, "InvalidArgument")
    assert_s3_error(raw.request("GET", f"/{tree_bucket}", query={"list-type": "2", "max-keys": "ten"}), 400, "InvalidArgument")
    assert_s3_error(raw.request("GET", f"/{tree_bucket}", query={"list-type": "2", "encoding-type": "xml"}), 400, "InvalidArgument")


def test_list_missing_bucket(s3, new_bucket):
    name = new_bucket(create=False)
    for call in (s3.list_objects_v2, s3.list_objects):
        with pytest.raises(ClientError) as excinfo:
            call(Bucket=name)
        assert excinfo.value.response["Error"]["Code"] == "NoSuchBucket"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# ---------------------------------------------------------------- V1


def test_list_v1_everything_and_owner(s3, tree_bucket):
    page = s3.list_objects(Bucket=tree_bucket)
    assert page["Name"] == tree_bucket
    assert keys_of(page) == sorted(TREE)
    assert page["IsTruncated"] is False
    assert page.get("Marker", "") == ""
    for obj in page["Contents"]:
        assert obj["ETag"] == md5_etag(obj["Key"].encode())
        assert obj["Size"] == len(obj["Key"].encode())
        assert obj.get("Owner", {}).get("ID")  # V1 always names the owner


def test_list_v1_prefix_delimiter(s3, tree_bucket):
    page = s3.list_objects(Bucket=tree_bucket, Prefix="a/", Delimiter="/")
    assert keys_of(page) == ["a/1", "a/2"]
    assert prefixes_of(page) == ["a/x/", "a/y/"]


def test_list_v1_pages_with_marker(s3, paged_bucket):
    seen = []
    marker = ""
    pages = 0
    while True:
        page = s3.list_objects(Bucket=paged_bucket, MaxKeys=10, Marker=marker)
        pages += 1
        assert page.get("Marker", "") == marker
        keys = keys_of(page)
        seen.extend(keys)
        if not page["IsTruncated"]:
            break
        # Without a delimiter S3 sends no NextMarker: the last key is the next marker.
        marker = page.get("NextMarker", keys[-1])
        assert marker == keys[-1]
        assert pages < 10, "listing does not terminate"
    assert pages == 3
    assert seen == PAGED_KEYS


def test_list_v1_marker_not_a_key(s3, paged_bucket):
    page = s3.list_objects(Bucket=paged_bucket, Marker="k105")
    assert keys_of(page) == PAGED_KEYS[11:]


def test_list_v1_next_marker_with_delimiter(s3, tree_bucket):
    """With a delimiter S3 returns NextMarker when truncated, and continuing from it skips the
    common prefix already returned."""
    page = s3.list_objects(Bucket=tree_bucket, Delimiter="/", MaxKeys=1)
    assert prefixes_of(page) == ["a/"]
    assert page["IsTruncated"] is True
    collected_prefixes, collected_keys = prefixes_of(page), keys_of(page)
    pages = 1
    while page["IsTruncated"]:
        marker = page["NextMarker"]
        page = s3.list_objects(Bucket=tree_bucket, Delimiter="/", MaxKeys=1, Marker=marker)
        collected_prefixes += prefixes_of(page)
        collected_keys += keys_of(page)
        pages += 1
        assert pages < 20, "listing does not terminate"
    assert collected_prefixes == ["a/", "b/", "d/"]
    assert collected_keys == ["c", "e.txt"]


def test_list_v1_paginator(s3, paged_bucket):
    seen = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=paged_bucket, PaginationConfig={"PageSize": 7}):
        seen.extend(keys_of(page))
    assert seen == PAGED_KEYS


# ---------------------------------------------------------------- isolation


def test_listings_are_confined_to_their_bucket(s3, backend, new_bucket):
    first = new_bucket()
    second = f"{first}-2"  # shares a string prefix with the first
    s3.create_bucket(Bucket=second)
    try:
        s3.put_object(Bucket=first, Key="one", Body=b"1")
        s3.put_object(Bucket=second, Key="two", Body=b"2")
        assert keys_of(s3.list_objects_v2(Bucket=first)) == ["one"]
        assert keys_of(s3.list_objects_v2(Bucket=second)) == ["two"]
        assert keys_of(s3.list_objects(Bucket=first)) == ["one"]
        # A delimiter listing at the root shows no trace of the other bucket.
        page = s3.list_objects_v2(Bucket=first, Delimiter="/")
        assert keys_of(page) == ["one"] and prefixes_of(page) == []
    finally:
        backend.remove_bucket(second)


def test_new_bucket_lists_empty(s3, bucket):
    page = s3.list_objects_v2(Bucket=bucket)
    assert keys_of(page) == []
    assert page["KeyCount"] == 0
    assert page["IsTruncated"] is False
