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

    def node_json(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "region": REGION,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
        }

    def stop(self) -> None:
        stop_process(self.process)


def portico_cli() -> Path:
    """The native portico CLI, built on demand."""
    binary = ROOT / "target" / "debug" / "portico"
    subprocess.run(["cargo", "build", "--quiet", "--bin", "portico"], cwd=ROOT, check=True)
    return binary


def mint_credential(project: str, node: str, backend_bucket: str, *, expires_at: int | None = None) -> dict:
    """Ask the CLI for a project record and a registered credential, as KV entries."""
    args = [str(portico_cli()), "dev-seed", "--project", project, "--node", node, "--backend-bucket", backend_bucket]
    if expires_at is not None:
        args += ["--expires-at", str(expires_at)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


@dataclass
class Worker:
    """The built worker running in workerd, through Miniflare (tests) or wrangler dev (dev)."""

    bindings: dict
    kv_entries: list
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_miniflare(self) -> "Worker":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {"port": self.port, "bindings": self.bindings, "kv": self.kv_entries}
        log = self.workdir / "miniflare.log"
        self.process = subprocess.Popen(
            [str(NODE_BIN / "node"), str(ROOT / "tests" / "harness" / "serve.mjs")],
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
        stop_process(self.process)


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

    (ROOT / ".dev.vars").write_text(f"PORTICO_NODES='{json.dumps({'local': garage.node_json()})}'\n")
    creds_file = state / "credential.json"
    if not creds_file.exists():
        seed = mint_credential("dev", "local", garage.bucket)
        creds_file.write_text(json.dumps(seed))
    seed = json.loads(creds_file.read_text())
    bulk = state / "kv-seed.json"
    bulk.write_text(json.dumps(seed["kv"]))
    persist = state / "wrangler-state"
    env = dict(os.environ, **QUIET_WRANGLER, PATH=f"{NODE_BIN}:{os.environ['PATH']}")
    subprocess.run(
        [str(NODE_BIN / "wrangler"), "kv", "bulk", "put", "--local", "--persist-to", str(persist), "--binding", "PORTICO_KV", str(bulk)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wrangler = subprocess.Popen(
        [str(NODE_BIN / "wrangler"), "dev", "--ip", "127.0.0.1", "--port", str(port), "--persist-to", str(persist)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    atexit.register(stop_process, wrangler)
    endpoint = f"http://127.0.0.1:{port}"
    wait_for_http(endpoint + "/", 120, wrangler)
    lines = env_lines(endpoint, seed["credential"], garage)
    (state / "env").write_text(lines + "\n")
    print("\nportico is running. Credentials (also in .dev/env; `source .dev/env`):\n", flush=True)
    print(lines, flush=True)
    print("\nCtrl-C stops the worker and the storage node.", flush=True)

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
