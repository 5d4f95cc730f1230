"""Directory-level clients: rclone (copy, sync, check) and `aws s3 sync` both ways, against the
gateway, with the tree compared byte for byte after each step."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

import stack

MIB = 1024 * 1024


def make_tree(root, seed: int):
    """A small tree with nested directories, awkward names, an empty file and one multipart-sized file."""
    rng = __import__("random").Random(seed)
    files = {
        "a.txt": b"alpha\n",
        "nested/b.bin": rng.randbytes(300_000),
        "nested/deeper/c with space.txt": b"gamma " * 1000,
        "unicode/ü-日本.txt": "ünïcode".encode(),
        "empty.dat": b"",
        "big/large.bin": rng.randbytes(9 * MIB),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def tree_of(root):
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(params=["plain", "encrypted"])
def target(request):
    """(credentials, bucket, boto3 client) of an unencrypted or an encrypted project."""
    if request.param == "plain":
        return request.getfixturevalue("creds"), request.getfixturevalue("bucket"), request.getfixturevalue("s3")
    names = ("encrypted_creds", "encrypted_bucket", "es3")
    return tuple(request.getfixturevalue(name) for name in names)


@pytest.fixture
def rclone_env(gateway, target, workdir):
    creds = target[0]
    env = dict(os.environ)
    # A CA bundle setting (present on some machines) makes rclone's S3 client refuse plain HTTP.
    env.pop("AWS_CA_BUNDLE", None)
    return dict(
        env,
        RCLONE_CONFIG_PORTICO_TYPE="s3",
        RCLONE_CONFIG_PORTICO_PROVIDER="Other",
        RCLONE_CONFIG_PORTICO_ACCESS_KEY_ID=creds["access_key_id"],
        RCLONE_CONFIG_PORTICO_SECRET_ACCESS_KEY=creds["secret_key"],
        RCLONE_CONFIG_PORTICO_ENDPOINT=gateway.endpoint,
        RCLONE_CONFIG_PORTICO_REGION="us-east-1",
        RCLONE_CONFIG_PORTICO_FORCE_PATH_STYLE="true",
        RCLONE_CONFIG=str(workdir / "rclone-none.conf"),
    )


def rclone(env, *args):
    out = subprocess.run(["rclone", "--retries", "1", "--low-level-retries", "1", *args], env=env, capture_output=True, text=True, errors="replace")
    assert out.returncode == 0, f"rclone {' '.join(args)}\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone (Debian package) is not installed: see make system-deps")
def test_rclone_copy_sync_check(rclone_env, target, workdir):
    _, bucket, s3 = target
    local = workdir / f"rclone-{uuid.uuid4().hex}"
    files = make_tree(local, 1)
    rclone(rclone_env, "copy", str(local), f"portico:{bucket}/tree")
    rclone(rclone_env, "check", str(local), f"portico:{bucket}/tree")
    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])}
    assert listed == {f"tree/{name}" for name in files}

    # Change the tree: one file edited, one removed, one added; sync makes the bucket match.
    (local / "a.txt").write_bytes(b"alpha, edited\n")
    (local / "nested" / "b.bin").unlink()
    (local / "new.txt").write_bytes(b"added")
    rclone(rclone_env, "sync", str(local), f"portico:{bucket}/tree")
    rclone(rclone_env, "check", str(local), f"portico:{bucket}/tree")
    back = workdir / f"rclone-back-{uuid.uuid4().hex}"
    rclone(rclone_env, "copy", f"portico:{bucket}/tree", str(back))
    assert tree_of(back) == tree_of(local)
    shutil.rmtree(local)
    shutil.rmtree(back)


def test_aws_s3_sync_both_ways(aws_env, target, workdir):
    creds, bucket, _ = target
    # Whole-file PUTs (threshold above the tree's largest file), ten at a time (the CLI's default):
    # `aws s3 cp` of 50 MiB covers the CLI's multipart path (test_multipart.py).
    config = workdir / f"aws-config-{uuid.uuid4().hex}"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    multipart_threshold = 64MB\n")
    aws_env = dict(
        aws_env,
        AWS_ACCESS_KEY_ID=creds["access_key_id"],
        AWS_SECRET_ACCESS_KEY=creds["secret_key"],
        AWS_CONFIG_FILE=str(config),
    )
    aws = [str(stack.ROOT / ".venv" / "bin" / "aws"), "s3"]
    local = workdir / f"sync-{uuid.uuid4().hex}"
    make_tree(local, 2)
    def run(*args):
        out = subprocess.run([*aws, *args], env=aws_env, capture_output=True, text=True)
        assert out.returncode == 0, f"aws s3 {args}\n{out.stdout}\n{out.stderr}"
        return out
    run("sync", str(local), f"s3://{bucket}/mirror")
    (local / "a.txt").write_bytes(b"changed")
    (local / "empty.dat").unlink()
    run("sync", "--delete", str(local), f"s3://{bucket}/mirror")
    down = workdir / f"sync-down-{uuid.uuid4().hex}"
    run("sync", f"s3://{bucket}/mirror", str(down))
    assert tree_of(down) == tree_of(local)
    # A second sync down has nothing to do.
    assert run("sync", f"s3://{bucket}/mirror", str(down)).stdout.strip() == ""
    shutil.rmtree(local)
    shutil.rmtree(down)


def test_s3cmd_sync_both_ways(gateway, target, workdir):
    creds, bucket, _ = target
    host = gateway.endpoint.removeprefix("http://")
    config = workdir / f"s3cmd-{uuid.uuid4().hex}.cfg"
    # s3cmd's defaults otherwise: SigV4, multipart above 15 MiB chunks, MD5 checks on download.
    config.write_text(
        "[default]\n"
        f"access_key = {creds['access_key_id']}\n"
        f"secret_key = {creds['secret_key']}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        "use_https = False\n"
        "bucket_location = us-east-1\n"
        "multipart_chunk_size_mb = 5\n"
    )
    s3cmd = [str(stack.ROOT / ".venv" / "bin" / "s3cmd"), "-c", str(config)]
    run = lambda *args: subprocess.run([*s3cmd, *args], check=True, capture_output=True, text=True)
    local = workdir / f"s3cmd-sync-{uuid.uuid4().hex}"
    make_tree(local, 3)
    run("sync", f"{local}/", f"s3://{bucket}/s3cmd/")
    (local / "a.txt").write_bytes(b"edited by the s3cmd test")
    (local / "nested" / "b.bin").unlink()
    run("sync", "--delete-removed", f"{local}/", f"s3://{bucket}/s3cmd/")
    down = workdir / f"s3cmd-down-{uuid.uuid4().hex}"
    down.mkdir()
    run("sync", f"s3://{bucket}/s3cmd/", f"{down}/")
    assert tree_of(down) == tree_of(local)
    # Nothing left to transfer either way.
    again = run("sync", "--dry-run", f"{local}/", f"s3://{bucket}/s3cmd/").stdout
    assert "upload:" not in again, again
    shutil.rmtree(local)
    shutil.rmtree(down)
