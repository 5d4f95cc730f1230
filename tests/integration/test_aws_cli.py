"""The aws CLI (v1, from the test virtualenv) against the gateway: mb, cp up and down, ls, rm,
s3api head-object, rb. Each step is checked on the node as well."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

AWS = str(Path(sys.executable).parent / "aws")


def aws(env, *args, check=True):
    result = subprocess.run([AWS, *args], env=env, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(
            f"aws {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@pytest.fixture
def cli_bucket(aws_env, backend):
    name = f"it-cli-{uuid.uuid4().hex[:8]}"
    aws(aws_env, "s3", "mb", f"s3://{name}")
    yield name
    backend.remove_bucket(name)


def test_mb_ls_rb(aws_env, backend, s3):
    name = f"it-cli-{uuid.uuid4().hex[:8]}"
    try:
        out = aws(aws_env, "s3", "mb", f"s3://{name}").stdout
        assert f"make_bucket: {name}" in out
        assert backend.bucket_record(name) is not None

        listing = aws(aws_env, "s3", "ls").stdout
        assert any(line.split()[-1] == name for line in listing.splitlines()), listing

        # mb of an existing bucket fails, rb of a non-empty bucket fails, both leave it in place.
        again = aws(aws_env, "s3", "mb", f"s3://{name}", check=False)
        assert again.returncode != 0
        assert "BucketAlreadyOwnedByYou" in again.stderr, again.stderr
        s3.put_object(Bucket=name, Key="keep", Body=b"k")
        refused = aws(aws_env, "s3", "rb", f"s3://{name}", check=False)
        assert refused.returncode != 0
        assert "BucketNotEmpty" in refused.stderr, refused.stderr
        assert backend.get(name, "keep") == b"k"
        s3.delete_object(Bucket=name, Key="keep")

        out = aws(aws_env, "s3", "rb", f"s3://{name}").stdout
        assert f"remove_bucket: {name}" in out
        assert backend.bucket_record(name) is None
        listing = aws(aws_env, "s3", "ls").stdout
        assert not any(line.split()[-1] == name for line in listing.splitlines() if line.strip()), listing
    finally:
        backend.remove_bucket(name)


def test_cp_up_and_down_ls_head_rm(aws_env, backend, cli_bucket, tmp_path):
    data = os.urandom(5 * 1024 * 1024 + 123)  # a few MiB, below the CLI's multipart threshold (8 MiB)
    source = tmp_path / "upload.bin"
    source.write_bytes(data)

    out = aws(aws_env, "s3", "cp", str(source), f"s3://{cli_bucket}/dir/sub/file.bin").stdout
    assert "upload:" in out
    assert backend.get(cli_bucket, "dir/sub/file.bin") == data

    aws(aws_env, "s3", "cp", str(source), f"s3://{cli_bucket}/dir/top.bin")
    aws(aws_env, "s3", "cp", str(source), f"s3://{cli_bucket}/root.bin")

    target = tmp_path / "download.bin"
    out = aws(aws_env, "s3", "cp", f"s3://{cli_bucket}/dir/sub/file.bin", str(target)).stdout
    assert "download:" in out
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()

    # ls of the bucket root: one object and one prefix.
    root = aws(aws_env, "s3", "ls", f"s3://{cli_bucket}/").stdout.splitlines()
    assert any(line.split() == ["PRE", "dir/"] for line in root), root
    assert any(line.split()[-1] == "root.bin" and line.split()[-2] == str(len(data)) for line in root), root
    assert len(root) == 2, root

    # ls of a prefix.
    sub = aws(aws_env, "s3", "ls", f"s3://{cli_bucket}/dir/").stdout.splitlines()
    assert any(line.split() == ["PRE", "sub/"] for line in sub), sub
    assert any(line.split()[-1] == "top.bin" for line in sub), sub
    assert len(sub) == 2, sub

    recursive = aws(aws_env, "s3", "ls", "--recursive", f"s3://{cli_bucket}").stdout.splitlines()
    assert sorted(line.split()[-1] for line in recursive) == ["dir/sub/file.bin", "dir/top.bin", "root.bin"]

    head = json.loads(aws(aws_env, "s3api", "head-object", "--bucket", cli_bucket, "--key", "dir/sub/file.bin").stdout)
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == '"' + hashlib.md5(data).hexdigest() + '"'

    out = aws(aws_env, "s3", "rm", f"s3://{cli_bucket}/dir/sub/file.bin").stdout
    assert "delete:" in out
    assert backend.object(cli_bucket, "dir/sub/file.bin") is None
    missing = aws(aws_env, "s3api", "head-object", "--bucket", cli_bucket, "--key", "dir/sub/file.bin", check=False)
    assert missing.returncode != 0
    assert "404" in missing.stderr or "Not Found" in missing.stderr, missing.stderr

    aws(aws_env, "s3", "rm", "--recursive", f"s3://{cli_bucket}/")
    assert backend.keys(f"{cli_bucket}/") == []
    assert aws(aws_env, "s3", "ls", f"s3://{cli_bucket}/").stdout.strip() == ""


def test_cp_with_metadata_and_content_type(aws_env, backend, cli_bucket, tmp_path):
    source = tmp_path / "page.html"
    source.write_text("<h1>hello</h1>\n")
    aws(
        aws_env,
        "s3",
        "cp",
        str(source),
        f"s3://{cli_bucket}/page.html",
        "--content-type",
        "text/html; charset=utf-8",
        "--cache-control",
        "max-age=60",
        "--metadata",
        "origin=cli,run=1",
    )
    head = json.loads(aws(aws_env, "s3api", "head-object", "--bucket", cli_bucket, "--key", "page.html").stdout)
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "max-age=60"
    assert head["Metadata"] == {"origin": "cli", "run": "1"}
    assert backend.get(cli_bucket, "page.html") == b"<h1>hello</h1>\n"


def test_cp_stdin_and_stdout(aws_env, backend, cli_bucket):
    data = os.urandom(300 * 1024)
    up = subprocess.run(
        [AWS, "s3", "cp", "-", f"s3://{cli_bucket}/streamed.bin"], env=aws_env, input=data, capture_output=True, timeout=120
    )
    assert up.returncode == 0, up.stderr.decode()
    assert backend.get(cli_bucket, "streamed.bin") == data
    down = subprocess.run(
        [AWS, "s3", "cp", f"s3://{cli_bucket}/streamed.bin", "-"], env=aws_env, capture_output=True, timeout=120
    )
    assert down.returncode == 0, down.stderr.decode()
    assert down.stdout == data
