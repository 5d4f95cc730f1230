"""Integration fixtures: one real Garage node and the real worker (workerd via Miniflare) per test
session, a registered credential, and clients for the gateway and for the node directly (to read
back what was, or was not, written)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import s3http  # noqa: E402

REGION = stack.REGION


@pytest.fixture(scope="session")
def workdir():
    base = ROOT / "tests" / ".work"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base) as d:
        yield Path(d)


@pytest.fixture(scope="session")
def garage(workdir):
    node = stack.Garage(workdir / "garage").start()
    yield node
    node.stop()


# The gateway's operator secrets for this session.
OPERATOR = stack.new_operator_secrets()


def portico(*args: str) -> str:
    """Run the native portico CLI; returns its stdout."""
    return subprocess.run([str(stack.portico_cli()), *args], check=True, capture_output=True, text=True).stdout.strip()


def restrict(grant: str, *flags: str) -> str:
    """Restrict a grant offline with the CLI."""
    return portico("grant", "restrict", grant, *flags)


def _reserved_port() -> socket.socket:
    """A loopback port held for the session: bound, so nothing else gets it, and refusing
    connections until someone listens on it."""
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    return reserved


# Node entries that are not Garage itself (test_node_reads.py): nothing ever listens on the first;
# on the second, that module serves a scripted node (a forwarder to Garage, or canned answers).
CLOSED_NODE = _reserved_port()
SCRIPTED_NODE = _reserved_port()
CLOSED_NODE_PORT = CLOSED_NODE.getsockname()[1]
SCRIPTED_NODE_PORT = SCRIPTED_NODE.getsockname()[1]
SCRIPTED_READ_TIMEOUT = 3


def node_entries(garage) -> dict:
    """The operator's nodes for the session. "local", which every project of the suite uses, reads
    objects over fresh connections (as `make dev` does), so all the suite's reads take that path;
    "pooled" is the same Garage read through fetch's pool, for comparisons."""
    local = garage.node_json(read_connections="fresh")
    return {
        "local": local,
        "pooled": garage.node_json(read_connections="pooled"),
        "refused": {**local, "endpoint": f"http://127.0.0.1:{CLOSED_NODE_PORT}"},
        "refused-pooled": {**local, "endpoint": f"http://127.0.0.1:{CLOSED_NODE_PORT}", "read_connections": "pooled"},
        # Reads wait SCRIPTED_READ_TIMEOUT s for an answer (30 by default): a node that holds on
        # longer gets the client 503 within a test's time.
        "scripted": {
            **local,
            "endpoint": f"http://127.0.0.1:{SCRIPTED_NODE_PORT}",
            "read_timeout_seconds": SCRIPTED_READ_TIMEOUT,
        },
    }


@pytest.fixture(scope="session")
def gateway(garage, workdir):
    stack.portico_cli()  # build the CLI now, not inside a test's time window
    worker = stack.Worker(
        bindings={
            "PORTICO_NODES": json.dumps(node_entries(garage)),
            "PORTICO_BASE_DOMAINS": "s3.localhost",
            "PORTICO_REGION": REGION,
            **OPERATOR,
        },
        kv_entries=[],
        workdir=workdir / "worker",
    ).start_miniflare()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def project(gateway, garage):
    """The session's project, created through the admin API: {"project", "access_grant"}. It is
    unencrypted (a pass-through), so that tests can compare what the node stores with what was
    sent; encrypted projects have their own fixtures below."""
    return stack.create_project(
        gateway.endpoint, OPERATOR["PORTICO_ADMIN_TOKEN"], "local", garage.bucket, "itest", encrypted=False
    )


@pytest.fixture(scope="session")
def encrypted_project(gateway, garage):
    """An encrypted project (the gateway's default) in its own backend bucket."""
    backend_bucket = garage.create_bucket("portico-encrypted")
    return stack.create_project(gateway.endpoint, OPERATOR["PORTICO_ADMIN_TOKEN"], "local", backend_bucket, "itest-enc")


@pytest.fixture(scope="session")
def encrypted_creds(gateway, encrypted_project):
    return stack.register(gateway.endpoint, encrypted_project["access_grant"])


@pytest.fixture(scope="session")
def es3(gateway, encrypted_creds):
    """boto3 (default configuration) against the gateway, for the encrypted project."""
    return make_client(gateway.endpoint, encrypted_creds["access_key_id"], encrypted_creds["secret_key"])


@pytest.fixture(scope="session")
def encrypted_backend(node, encrypted_project):
    return Backend(node, encrypted_project["project"]["backend_bucket"])


@pytest.fixture
def encrypted_bucket(es3, encrypted_backend):
    """A fresh bucket of the encrypted project; removed afterwards through the node."""
    name = unique_bucket_name("enc")
    es3.create_bucket(Bucket=name)
    yield name
    encrypted_backend.remove_bucket(name)


@pytest.fixture(scope="session")
def seeds(gateway, project):
    """Registered credentials: the project's root credential, and one whose grant has expired."""
    main = stack.register(gateway.endpoint, project["access_grant"])
    expires_at = int(time.time()) + 2
    expired = stack.register(gateway.endpoint, restrict(project["access_grant"], "--not-after", str(expires_at)))
    time.sleep(max(0.0, expires_at - time.time() + 0.5))
    return {"main": {"credential": main}, "expired": {"credential": expired}}


@pytest.fixture(scope="session")
def creds(seeds):
    return seeds["main"]["credential"]


def make_client(endpoint, access_key, secret_key, **config):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(s3={"addressing_style": config.pop("addressing_style", "path")}, retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="session")
def s3(gateway, creds):
    """boto3 against the gateway, default configuration (checksums on)."""
    return make_client(gateway.endpoint, creds["access_key_id"], creds["secret_key"])


@pytest.fixture(scope="session")
def node(garage):
    """boto3 straight to the storage node, for read-backs."""
    return garage.client(boto3)


class Backend:
    """Read-backs straight from the storage node, bypassing the gateway: client bucket `b` key `k`
    is backend key `b/k` in the project's backend bucket; bucket records live at
    `.portico/buckets/<name>`."""

    def __init__(self, client, bucket):
        self.client = client
        self.bucket = bucket

    @staticmethod
    def key(bucket: str, key: str) -> str:
        return f"{bucket}/{key}"

    @staticmethod
    def record_key(bucket: str) -> str:
        return f".portico/buckets/{bucket}"

    def head(self, key: str):
        """The node's HeadObject answer for a backend key, or None when it does not exist."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise

    def get(self, bucket: str, key: str):
        """The stored bytes of a client object, or None when the node has no such object."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(bucket, key))["Body"].read()
        except ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return None
            raise

    def object(self, bucket: str, key: str):
        return self.head(self.key(bucket, key))

    def bucket_record(self, bucket: str):
        return self.head(self.record_key(bucket))

    def keys(self, prefix: str) -> list[str]:
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def remove_bucket(self, bucket: str) -> None:
        """Remove a client bucket and everything in it, whatever state the gateway left it in."""
        for key in self.keys(f"{bucket}/"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
        self.client.delete_object(Bucket=self.bucket, Key=self.record_key(bucket))


@pytest.fixture(scope="session")
def backend(node, garage):
    return Backend(node, garage.bucket)


def unique_bucket_name(tag: str = "it") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(s3, backend):
    """A fresh bucket, created through the gateway; removed afterwards through the node (so the
    cleanup works whatever the test, or a gateway bug, did to it)."""
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    backend.remove_bucket(name)


@pytest.fixture
def new_bucket(s3, backend):
    """Factory for more fresh buckets in one test: `new_bucket()` -> name (created through the
    gateway unless create=False); all removed afterwards through the node."""
    names = []

    def make(tag: str = "it", create: bool = True) -> str:
        name = unique_bucket_name(tag)
        names.append(name)
        if create:
            s3.create_bucket(Bucket=name)
        return name

    yield make
    for name in names:
        backend.remove_bucket(name)


@pytest.fixture(scope="session")
def raw(gateway, creds):
    """Raw requests to the gateway, signed with botocore's SigV4 signer (see s3http.Raw)."""
    return s3http.Raw(gateway.endpoint, creds["access_key_id"], creds["secret_key"])


@pytest.fixture(scope="session")
def aws_env(gateway, creds, workdir):
    """Environment for the aws CLI pointed at the gateway."""
    config = workdir / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    return dict(
        os.environ,
        AWS_ENDPOINT_URL=gateway.endpoint,
        AWS_ACCESS_KEY_ID=creds["access_key_id"],
        AWS_SECRET_ACCESS_KEY=creds["secret_key"],
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-credentials"),
    )


@pytest.fixture
def new_encrypted_bucket(es3, encrypted_backend):
    """Factory for more fresh buckets of the encrypted project; all removed afterwards."""
    names = []

    def make(tag: str = "enc") -> str:
        name = unique_bucket_name(tag)
        names.append(name)
        es3.create_bucket(Bucket=name)
        return name

    yield make
    for name in names:
        encrypted_backend.remove_bucket(name)
