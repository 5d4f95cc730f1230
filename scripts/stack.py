#!/usr/bin/env python3
"""The local portico stack: a real Garage storage node and the real worker in workerd.

One place for starting things, used by `make dev` (`stack.py dev`: wrangler dev, printed
credentials) and by the integration tests (`Stack` with Miniflare, which starts in well under a
second and takes KV entries directly).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARGO_BIN = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin"
NODE_BIN = ROOT / "node_modules" / ".bin"
REGION = "us-east-1"
QUIET_WRANGLER = {
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Wait until something answers HTTP at url (any status counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered\n{tail}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url} within {timeout}s")


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Garage:
    """One Garage node on loopback with a ready key and backend bucket."""

    workdir: Path
    bucket: str = "portico-dev"
    s3_port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    access_key: str = field(default_factory=lambda: "GK" + secrets.token_hex(12))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> "Garage":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "garage.toml"
        config.write_text(
            f"""metadata_dir = "{self.workdir}/meta"
data_dir = "{self.workdir}/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{self.rpc_port}"
rpc_public_addr = "127.0.0.1:{self.rpc_port}"
rpc_secret = "{secrets.token_hex(32)}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{self.s3_port}"
root_domain = ".s3.garage.localhost"
"""
        )
        env = dict(
            os.environ,
            GARAGE_DEFAULT_ACCESS_KEY=self.access_key,
            GARAGE_DEFAULT_SECRET_KEY=self.secret_key,
            GARAGE_DEFAULT_BUCKET=self.bucket,
            RUST_LOG=os.environ.get("GARAGE_LOG", "warn"),
        )
        log = self.workdir / "garage.log"
        self.process = subprocess.Popen(
            [str(CARGO_BIN / "garage"), "-c", str(config), "server", "--single-node", "--default-bucket"],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_http(self.endpoint, 60, self.process, log)
        self._wait_for_bucket()
        return self

    def _wait_for_bucket(self) -> None:
        """The default bucket appears shortly after the API port opens."""
        import boto3

        client = self.client(boto3)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def create_bucket(self, name: str) -> str:
        """Another backend bucket on this node, usable with the node's key (one per project)."""
        garage = [str(CARGO_BIN / "garage"), "-c", str(self.workdir / "garage.toml")]
        subprocess.run([*garage, "bucket", "create", name], check=True, capture_output=True)
        subprocess.run(
            [*garage, "bucket", "allow", "--read", "--write", "--owner", name, "--key", self.access_key],
            check=True,
            capture_output=True,
        )
        return name

    def client(self, boto3):
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )

    def node_json(self, read_connections: str | None = None) -> dict:
        """The node's entry in PORTICO_NODES. `read_connections`: "fresh" (a new connection per
        object read, which avoids Garage's small-response stall: README, "Storage nodes") or
        "pooled"; None leaves the gateway's default (pooled)."""
        node = {
            "endpoint": self.endpoint,
            "region": REGION,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            # Garage on LMDB puts, reads and deletes keys of at most 471 bytes (measured: 479 for a
            # put alone, but the delete tombstone needs 8 more); the gateway says so
            # with KeyTooLongError instead of passing on the node's 503.
            "max_key_bytes": 471,
        }
        if read_connections is not None:
            node["read_connections"] = read_connections
        return node

    def stop(self) -> None:
        stop_process(self.process)


_portico_built = False


def portico_cli() -> Path:
    """The native portico CLI, built once per process on first use."""
    global _portico_built
    binary = ROOT / "target" / "debug" / "portico"
    if not _portico_built:
        subprocess.run(["cargo", "build", "--quiet", "--bin", "portico"], cwd=ROOT, check=True)
        _portico_built = True
    return binary


def new_operator_secrets() -> dict:
    """A fresh master secret (grant root keys derive from it) and admin API token."""
    return {"PORTICO_MASTER_SECRET": secrets.token_hex(32), "PORTICO_ADMIN_TOKEN": secrets.token_hex(24)}


def api_call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict | None]:
    """One JSON call to the worker's credential API: (status, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read()
    return status, (json.loads(payload) if payload else None)


def create_project(
    endpoint: str,
    admin_token: str,
    node: str,
    backend_bucket: str,
    project_id: str | None = None,
    encrypted: bool | None = None,
) -> dict:
    """Create a project through the admin API; returns {"project", "access_grant"}.
    `encrypted` None leaves the choice to the gateway's default."""
    body = {"node": node, "backend_bucket": backend_bucket}
    if encrypted is not None:
        body["encrypted"] = encrypted
    if project_id:
        body["id"] = project_id
    status, answer = api_call("POST", f"{endpoint}/v1/admin/projects", body, admin_token)
    if status != 201:
        raise RuntimeError(f"creating project failed: {status} {answer}")
    return answer


def register(endpoint: str, grant: str, public: bool = False) -> dict:
    """Register a grant as S3 credentials: {"access_key_id", "secret_key", "endpoint"}."""
    status, answer = api_call("POST", f"{endpoint}/v1/access", {"access_grant": grant, "public": public})
    if status != 200:
        raise RuntimeError(f"registering the grant failed: {status} {answer}")
    return answer


@dataclass
class Worker:
    """The built worker running in workerd, through Miniflare (tests) or wrangler dev (dev)."""

    bindings: dict
    kv_entries: list
    workdir: Path
    # A directory keeping the KV namespace, so that a later worker finds what this one stored.
    kv_persist: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_miniflare(self, harness: Path | None = None) -> "Worker":
        """`harness`: another Miniflare script taking the same config (default: the tests')."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {"port": self.port, "bindings": self.bindings, "kv": self.kv_entries}
        if self.kv_persist:
            config["kv_persist"] = str(self.kv_persist)
        log = self.workdir / "miniflare.log"
        self.process = subprocess.Popen(
            [str(NODE_BIN / "node"), str(harness or ROOT / "tests" / "harness" / "serve.mjs")],
            cwd=ROOT,
            env=dict(os.environ, PORTICO_MF_CONFIG=json.dumps(config)),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # serve.mjs prints "ready" only after the KV entries are in place.
        deadline = time.monotonic() + 60
        while "ready " not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        # Miniflare's dispose can take long; nothing of it needs to be kept.
        stop_process(self.process, timeout=3)


@dataclass
class S3sProxy:
    """s3s-proxy (crates.io; scripts/install-bench-tools.sh), a native Rust S3 proxy, in front of a
    Garage node: the benchmarks' peer. It checks SigV4 against the node's own key (from the AWS_*
    environment) and forwards every request with the AWS SDK for Rust."""

    garage: Garage
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3sProxy":
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.garage.access_key,
            AWS_SECRET_ACCESS_KEY=self.garage.secret_key,
            AWS_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(self.workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.workdir / "no-aws-credentials"),
            # The SDK's default (CRC checksums in aws-chunked trailers) is refused by Garage 2.5
            # ("Invalid payload signature"); send plain bodies as other clients of Garage do.
            AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
            AWS_RESPONSE_CHECKSUM_VALIDATION="when_required",
            RUST_LOG=os.environ.get("S3S_PROXY_LOG", "warn"),
        )
        log = self.workdir / "s3s-proxy.log"
        self.process = subprocess.Popen(
            [str(CARGO_BIN / "s3s-proxy"), "--host", "127.0.0.1", "--port", str(self.port), "--endpoint-url", self.garage.endpoint],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_http(self.endpoint, 30, self.process, log)
        return self

    def stop(self) -> None:
        stop_process(self.process, timeout=5)


def build_worker() -> None:
    subprocess.run([str(ROOT / "scripts" / "build-worker.sh")], cwd=ROOT, check=True)


def env_lines(endpoint: str, creds: dict, garage: Garage) -> str:
    return "\n".join(
        [
            f"export AWS_ENDPOINT_URL={endpoint}",
            f"export AWS_ACCESS_KEY_ID={creds['access_key_id']}",
            f"export AWS_SECRET_ACCESS_KEY={creds['secret_key']}",
            f"export AWS_REGION={REGION}",
            f"export PORTICO_NODE_ENDPOINT={garage.endpoint}",
            f"export PORTICO_NODE_ACCESS_KEY={garage.access_key}",
            f"export PORTICO_NODE_SECRET_KEY={garage.secret_key}",
            f"export PORTICO_NODE_BUCKET={garage.bucket}",
        ]
    )


def dev(port: int) -> None:
    """`make dev`: Garage + wrangler dev with local KV, a registered credential, printed."""
    state = ROOT / ".dev"
    state.mkdir(exist_ok=True)
    garage_dir = state / "garage"
    # Keep the node's keys across runs so stored data and printed settings stay valid.
    keys_file = state / "garage-keys.json"
    if keys_file.exists():
        keys = json.loads(keys_file.read_text())
        garage = Garage(garage_dir, access_key=keys["access_key"], secret_key=keys["secret_key"], s3_port=keys["s3_port"])
    else:
        garage = Garage(garage_dir, s3_port=3900, rpc_port=3901)
        keys_file.write_text(json.dumps({"access_key": garage.access_key, "secret_key": garage.secret_key, "s3_port": garage.s3_port}))
    garage.rpc_port = garage.s3_port + 1
    build_worker()
    garage.start()
    atexit.register(garage.stop)

    secrets_file = state / "operator-secrets.json"
    if not secrets_file.exists():
        secrets_file.write_text(json.dumps(new_operator_secrets()))
    operator = json.loads(secrets_file.read_text())
    # Garage does not set TCP_NODELAY: object reads over fresh connections avoid its ~40 ms stall.
    dev_vars = {"PORTICO_NODES": json.dumps({"local": garage.node_json(read_connections="fresh")}), **operator}
    (ROOT / ".dev.vars").write_text("".join(f"{name}='{value}'\n" for name, value in dev_vars.items()))
    persist = state / "wrangler-state"
    if not (state / "root-grant").exists():
        shutil.rmtree(persist, ignore_errors=True)
    env = dict(os.environ, **QUIET_WRANGLER, PATH=f"{NODE_BIN}:{os.environ['PATH']}")
    wrangler = subprocess.Popen(
        [str(NODE_BIN / "wrangler"), "dev", "--ip", "127.0.0.1", "--port", str(port), "--persist-to", str(persist)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    atexit.register(stop_process, wrangler)
    endpoint = f"http://127.0.0.1:{port}"
    wait_for_http(endpoint + "/", 120, wrangler)
    # The dev project and its credential persist with the local KV; make them once. State from an
    # older layout (no root grant kept) is replaced: local KV is wiped and both are made again.
    creds_file = state / "credential.json"
    if creds_file.exists() and not (state / "root-grant").exists():
        creds_file.unlink()
    if not creds_file.exists():
        project = create_project(endpoint, operator["PORTICO_ADMIN_TOKEN"], "local", garage.bucket, "dev")
        (state / "root-grant").write_text(project["access_grant"] + "\n")
        creds_file.write_text(json.dumps(register(endpoint, project["access_grant"])))
    seed = {"credential": json.loads(creds_file.read_text())}
    lines = env_lines(endpoint, seed["credential"], garage)
    (state / "env").write_text(lines + "\n")
    print("\nportico is running. Credentials (also in .dev/env; `source .dev/env`):\n", flush=True)
    print(lines, flush=True)
    print(f"\nThe dev project's root access grant is in {state / 'root-grant'}; the admin token in {secrets_file}.")
    print("Ctrl-C stops the worker and the storage node.", flush=True)

    # Cleanup runs in the main flow, not in a signal handler: a handler interrupting
    # Popen.wait() and waiting again would deadlock on Popen's internal lock.
    def interrupted(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        wrangler.wait()
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stop_process(wrangler)
        garage.stop()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "dev":
        dev(int(os.environ.get("PORTICO_DEV_PORT", "8787")))
    else:
        print("usage: stack.py dev", file=sys.stderr)
        sys.exit(2)
