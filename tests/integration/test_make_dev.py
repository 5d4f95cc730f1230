"""`make dev`, as the README's quick start runs it on a fresh clone: a Garage node and the worker
under wrangler dev with local KV, and a ready credential printed (also in .dev/env). The printed
credential works with a real client (the aws CLI), and Ctrl-C stops the worker and the node.

It runs only where `make dev` has never run in this checkout (a fresh clone, as CI has): the
command keeps its state in .dev/ and .dev.vars and takes fixed ports, which a developer's own
`make dev` owns otherwise. What it creates is removed afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS = str(Path(sys.executable).parent / "aws")
STATE = [ROOT / ".dev", ROOT / ".dev.vars"]
# Garage's S3 and RPC ports and wrangler dev's, as `make dev` takes them on a first run.
PORTS = [3900, 3901, 8787]


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def read_env(path: Path) -> dict[str, str]:
    """The `export NAME=value` lines of .dev/env."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}


@pytest.fixture
def fresh_checkout():
    if any(path.exists() for path in STATE):
        pytest.skip("this checkout has its own `make dev` state (.dev/, .dev.vars)")
    if busy := [port for port in PORTS if port_in_use(port)]:
        pytest.skip(f"ports `make dev` takes are in use: {busy}")
    wrangler_dir_existed = (ROOT / ".wrangler").exists()
    yield
    shutil.rmtree(ROOT / ".dev", ignore_errors=True)
    (ROOT / ".dev.vars").unlink(missing_ok=True)
    if not wrangler_dir_existed:
        shutil.rmtree(ROOT / ".wrangler", ignore_errors=True)


def test_make_dev_serves_the_credential_it_prints(fresh_checkout, tmp_path):
    log = tmp_path / "make-dev.log"
    dev = subprocess.Popen(
        ["make", "dev"], cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while "Ctrl-C stops" not in log.read_text(errors="replace"):
            assert dev.poll() is None, f"make dev exited with {dev.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"make dev did not get ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        printed = log.read_text()
        settings = read_env(ROOT / ".dev" / "env")
        assert settings["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8787"
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
            assert f"export {name}={settings[name]}" in printed, name

        config = tmp_path / "aws-config"
        config.write_text("[default]\nregion = us-east-1\n")
        env = dict(
            os.environ,
            **{name: settings[name] for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
            AWS_DEFAULT_REGION=settings["AWS_REGION"],
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        )

        def aws(*args: str) -> subprocess.CompletedProcess:
            done = subprocess.run([AWS, *args], env=env, capture_output=True, timeout=120)
            assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr.decode(errors='replace')}"
            return done

        bucket = f"dev-smoke-{uuid.uuid4().hex[:8]}"
        body = os.urandom(3 * 1024 * 1024 + 17)  # over the fresh-read limit: read again through fetch
        upload = tmp_path / "upload.bin"
        upload.write_bytes(body)
        aws("s3", "mb", f"s3://{bucket}")
        aws("s3", "cp", str(upload), f"s3://{bucket}/object.bin")
        assert aws("s3", "cp", f"s3://{bucket}/object.bin", "-").stdout == body
        assert "object.bin" in aws("s3", "ls", f"s3://{bucket}").stdout.decode()
        aws("s3", "rb", f"s3://{bucket}", "--force")
    finally:
        # Ctrl-C, as a developer stops it.
        try:
            os.killpg(dev.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait(timeout=10)
    deadline = time.monotonic() + 30
    while (busy := [port for port in PORTS if port_in_use(port)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not busy, f"still serving after Ctrl-C: ports {busy}\n{log.read_text()[-2000:]}"
