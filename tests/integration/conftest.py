"""Integration fixtures: one real Garage node and the real worker (workerd via Miniflare) per test
session, a registered credential, and clients for the gateway and for the node directly (to read
back what was, or was not, written)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402

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


@pytest.fixture(scope="session")
def seeds(garage):
    """KV entries and credentials: the main project credential, and an expired one."""
    main = stack.mint_credential("itest", "local", garage.bucket)
    expired = stack.mint_credential("itest", "local", garage.bucket, expires_at=int(time.time()) - 60)
    return {"main": main, "expired": expired}


@pytest.fixture(scope="session")
def gateway(garage, seeds, workdir):
    kv = [entry for seed in seeds.values() for entry in seed["kv"]]
    worker = stack.Worker(
        bindings={
            "PORTICO_NODES": json.dumps({"local": garage.node_json()}),
            "PORTICO_BASE_DOMAINS": "s3.localhost",
            "PORTICO_REGION": REGION,
        },
        kv_entries=kv,
        workdir=workdir / "worker",
    ).start_miniflare()
    yield worker
    worker.stop()


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


@pytest.fixture
def bucket(s3):
    """A fresh bucket, emptied and removed afterwards."""
    name = f"it-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


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
