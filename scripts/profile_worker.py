#!/usr/bin/env python3
"""Profile the worker under one load, to see where workerd spends its CPU (not a benchmark).

    python scripts/profile_worker.py WORKLOAD [SECONDS] [CONCURRENCY]

WORKLOAD: get-small, head-small, put-small, list-small, get-large, put-large, put-large-signed, mpu-large;
append `-enc` for an encrypted project (get-large-enc). Starts a Garage node and the built worker
(scripts/bench_serve.mjs with Miniflare's inspector), runs the load for SECONDS (default 8) while
scripts/cpu_profile.mjs records a V8 CPU profile, then prints the heaviest functions and the
workerd process's CPU per request or per MiB. For wasm function names build with
`PORTICO_PROFILE=1 scripts/build-worker.sh`. The profile is kept in bench-results/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402
import bench_client as bc  # noqa: E402
import stack  # noqa: E402

MiB = 1 << 20


def main() -> int:
    workload = sys.argv[1] if len(sys.argv) > 1 else "get-small"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    encrypted = workload.endswith("-enc")
    kind = workload.removesuffix("-enc")
    work = Path(tempfile.mkdtemp(prefix="portico-profile-"))
    b = bench.Bench(work)
    garage = worker = None
    try:
        garage = b.garage = stack.Garage(work / "garage").start()
        b.bindings = {
            # FRESH=1: the node's object reads over a new connection each (README, "Storage nodes").
            # NODE='{"read_timeout_seconds": 0}': more settings for the node's entry.
            "PORTICO_NODES": '{"local": %s}' % json.dumps({
                **garage.node_json(read_connections="fresh" if os.environ.get("FRESH") == "1" else None),
                **json.loads(os.environ.get("NODE", "{}")),
            }),
            "PORTICO_BASE_DOMAINS": "s3.localhost",
            "PORTICO_REGION": stack.REGION,
            **b.operator,
        }
        inspector = stack.free_port()
        os.environ["PORTICO_INSPECTOR_PORT"] = str(inspector)
        worker = b.worker = stack.Worker(bindings=b.bindings, kv_entries=[], workdir=work / "worker").start_miniflare(bench.HARNESS)
        backend = b.create_backend_bucket(garage, "portico-profile") if encrypted else garage.bucket
        target = b.gateway_target("profile", b.operator["PORTICO_ADMIN_TOKEN"], "local", backend, "profile", encrypted)
        pid = bench.workerd_pid(worker)
        b.procs = bench.Procs({"workerd": pid})
        load, unit = make_load(b, target, kind, seconds, concurrency)
        if os.environ.get("FLOOR") == "1":
            # The same load through the JS pass-through worker (scripts/bench_stall_probe.mjs): the
            # floor of any worker in workerd, measured on the same machine at the same time.
            b.start_probe()
            direct = bc.Target("direct", garage.endpoint, garage.access_key, garage.secret_key, garage.bucket, "floor/")
            b.targets = {"direct": direct}
            floor_load, _ = make_load(b, direct, kind, seconds, concurrency, probe=True)
            floor_load(1.0)
            cpu0 = bench.proc_cpu(b.probe_pid)
            done = floor_load(seconds - 1.0)
            cpu = bench.proc_cpu(b.probe_pid) - cpu0
            print(f"floor (JS pass-through worker): {done:.1f} {unit} in {seconds - 1.0:.1f}s; "
                  f"workerd CPU {1000 * cpu / max(done, 1e-9):.3f} ms per {unit.rstrip('s')}")
            bench.stack.stop_process(b.probe_process, timeout=3)
        out = ROOT / "bench-results" / f"profile-{workload}.cpuprofile"
        out.parent.mkdir(exist_ok=True)
        # Warm up before recording.
        load(1.0)
        # PROFILE=0: measure the CPU per request or MiB only (the profiler itself costs CPU).
        profiler = None
        if os.environ.get("PROFILE", "1") != "0":
            profiler = subprocess.Popen(
                [str(stack.NODE_BIN / "node"), str(ROOT / "scripts" / "cpu_profile.mjs"), str(inspector), str(seconds), str(out)],
                cwd=ROOT,
            )
            time.sleep(0.5)
        cpu0, garage_cpu0 = bench.proc_cpu(pid), bench.proc_cpu(garage.process.pid)
        t0 = time.perf_counter()
        done = load(seconds - 1.0)
        elapsed = time.perf_counter() - t0
        cpu = bench.proc_cpu(pid) - cpu0
        garage_cpu = bench.proc_cpu(garage.process.pid) - garage_cpu0
        if profiler:
            profiler.wait(timeout=120)
        print(f"\n{workload}, concurrency {concurrency}: {done:.1f} {unit} in {elapsed:.1f}s ({done / elapsed:.1f}/s); "
              f"workerd CPU {1000 * cpu / max(done, 1e-9):.3f} ms per {unit.rstrip('s')}, Garage "
              f"{1000 * garage_cpu / max(done, 1e-9):.3f}; profile in {out}")
        return 0
    finally:
        for thing in (worker, garage):
            if thing is not None:
                thing.stop()
        # Garage's data: a large-object load leaves a GiB or more behind.
        shutil.rmtree(work, ignore_errors=True)


def make_load(b: bench.Bench, target: bc.Target, kind: str, seconds: float, concurrency: int, probe: bool = False):
    """A function running the load for a given time and returning (amount done), and its unit.
    `probe`: through the JS pass-through worker to `target` (a node)."""
    if kind.endswith("-small"):
        op = kind.removesuffix("-small").upper()
        # OBJECTS=N: seed N objects (the listing's size) instead of 64.
        count = int(os.environ.get("OBJECTS", "64"))
        body = b.seed_small(target, "small/", 4096, count)
        digest = bc.s3http.sha256_hex(body)
        keys = [f"small/obj-{i:03d}" for i in range(count)]
        if probe:
            address = b.probe
            requests = {
                "GET": [(b.probe_head(target, "GET", k), None, False) for k in keys],
                "HEAD": [(b.probe_head(target, "HEAD", k), None, True) for k in keys],
                "PUT": [(b.probe_head(target, "PUT", f"small-put/{i}", 4096), body, False) for i in range(64)],
                "LIST": [(b.probe_head(target, "GET", None, query={"list-type": "2", "prefix": target.prefix + "small/"}), None, False)],
            }[op]
        else:
            address = target.address
            requests = {
                "GET": [(target.sign("GET", k), None, False) for k in keys],
                "HEAD": [(target.sign("HEAD", k), None, True) for k in keys],
                "PUT": [(target.sign("PUT", f"small-put/{i}", payload_hash=digest, content_length=4096), body, False) for i in range(64)],
                "LIST": [(target.sign("GET", None, {"list-type": "2", "prefix": "small/"}), None, False)],
            }[op]

        def run(duration: float) -> float:
            cell = bc.run_closed_loop(address, requests, concurrency, duration, 0.0, quickack=True)
            if cell.errors:
                print("errors:", cell.errors, cell.first_error[:300])
            if duration > 1.5:
                print("latency:", {k: v for k, v in bench.summarize(cell.latencies).items() if k in ("p50_ms", "p99_ms")})
            return len(cell.latencies)

        return run, "requests"
    size = 64 * MiB
    if kind == "mpu-large":
        # Multipart uploads as make bench runs them: 16 MiB parts, four at a time.
        def run_mpu(duration: float) -> float:
            end = time.perf_counter() + duration
            moved = 0.0
            while time.perf_counter() < end:
                # A new tag each time: Garage deduplicates identical blocks.
                parts = bc.part_bodies(b.base, size, 16 * MiB, os.urandom(6))
                bc.multipart_put(target, "large/mpu", parts, 4)
                moved += size / MiB
            return moved

        return run_mpu, "MiBs"
    signed = kind == "put-large-signed"
    if kind.startswith("get"):
        b.put_single(target, "large/object", size, "profile")

    def run(duration: float) -> float:
        end = time.perf_counter() + duration
        moved = 0
        while time.perf_counter() < end:
            if kind.startswith("get"):
                b.get_full(target, "large/object", size)
            else:
                b.put_single(target, "large/put", size, os.urandom(6).hex(), signed=signed)
            moved += size / MiB
        return moved

    return run, "MiBs"


if __name__ == "__main__":
    sys.exit(main())
