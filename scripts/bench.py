"""Benchmark: our assistant against a stock `rasa init` assistant, trained and served the same way in
the same run, and the two-replica cluster. Prints a Markdown table (make bench).

For each: training time (Rasa's cache off), time from process start to the first answer, REST turns
per second and p50/p95/p99 latency at 1, 10 and 50 concurrent conversations, errors, and peak
resident memory of the serving processes (VmHWM). Each simulated patient holds conversations of
ten questions, one after another, each with a new sender id (so a tenth of the turns open a session).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import aiohttp

from scripts.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
RASA = str(ROOT / ".venv/bin/rasa")
WORK = ROOT / "build/bench"
QUESTIONS = ["hello", "what is botox", "is it for wrinkles", "does it hurt", "how long does it last",
             "what are the side effects", "what should i avoid after the injections", "when will i see results",
             "how much does it cost", "thank you"]
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
       "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_MAX_CACHE_SIZE": "0", "SANIC_HOST": "127.0.0.1",
       "OPENBLAS_NUM_THREADS": "1"}  # as run.sh and cluster.sh serve, for both assistants


@dataclass
class Load:
    concurrency: int
    turns: int
    seconds: float
    errors: int  # HTTP errors, refused connections, timeouts
    empty: int  # answered with no message: the assistant had nothing to say
    latencies: List[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000 if ordered else 0.0


@dataclass
class Result:
    name: str
    train_seconds: Optional[float] = None
    start_seconds: Optional[float] = None
    peak_mb: Optional[float] = None
    loads: Dict[int, Load] = field(default_factory=dict)


def peak_mb(pids: List[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def train(project: Path, out: Path, name: str) -> float:
    started = time.monotonic()
    subprocess.run([RASA, "train", "--out", str(out), "--fixed-model-name", name, "--quiet"], cwd=project,
                   env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


async def first_answer(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url + "/webhooks/rest/webhook", json={"sender": "probe", "message": "hello"},
                                        timeout=aiohttp.ClientTimeout(total=30)) as response:
                    if response.status == 200 and await response.json():
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


async def load(url: str, concurrency: int, seconds: float, label: str) -> Load:
    latencies: List[float] = []
    errors = empty = 0
    stop_at = time.monotonic() + seconds

    async def conversation(session, index):
        nonlocal errors, empty
        turn = 0
        while time.monotonic() < stop_at:
            sender = f"bench-{label}-{concurrency}-{index}-{turn // len(QUESTIONS)}"
            body = {"sender": sender, "message": QUESTIONS[turn % len(QUESTIONS)]}
            started = time.monotonic()
            try:
                async with session.post(url + "/webhooks/rest/webhook", json=body,
                                        timeout=aiohttp.ClientTimeout(total=60)) as response:
                    ok = response.status == 200
                    empty += ok and not await response.json()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            latencies.append(time.monotonic() - started)
            errors += not ok
            turn += 1

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(conversation(session, i) for i in range(concurrency)))
    return Load(concurrency, len(latencies), time.monotonic() - started, errors, empty, latencies)


def serve(result: Result, url: str, pids: List[int], started: float, seconds: float) -> None:
    asyncio.run(first_answer(url))
    if started:
        result.start_seconds = time.monotonic() - started
    for concurrency in (1, 10, 50):
        result.loads[concurrency] = asyncio.run(load(url, concurrency, seconds, result.name.split()[0]))
        print(f"  {result.name}: {concurrency} concurrent done", file=sys.stderr)
    result.peak_mb = peak_mb(pids)


def spawn(args, cwd, log: Path, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, env={**ENV, **(extra_env or {})}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: List[subprocess.Popen]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait()


def bench_stock(seconds: float) -> Result:
    result = Result("stock `rasa init`")
    project = WORK / "stock"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(ROOT / ".venv/lib/python3.11/site-packages/rasa/cli/initial_project", project)
    result.train_seconds = train(project, project / "models", "stock")
    port = free_port()
    started = time.monotonic()
    server = spawn([RASA, "run", "--model", "models/stock.tar.gz", "--port", str(port), "--interface", "127.0.0.1"],
                   project, WORK / "stock.log")
    try:
        serve(result, f"http://127.0.0.1:{port}", [server.pid], started, seconds)
    finally:
        stop([server])
    return result


def bench_ours(seconds: float) -> Result:
    result = Result("ours (one process)")
    result.train_seconds = train(ROOT, WORK / "models", "ours")
    rasa_port, action_port = free_port(), free_port()
    (WORK / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        f"tracker_store:\n  type: components.tracker_store.PrivacyAwareSQLTrackerStore\n  dialect: sqlite\n"
        f"  db: {WORK / 'trackers.db'}\nlock_store:\n  type: in_memory\n")
    (WORK / "trackers.db").unlink(missing_ok=True)
    store = {"RECORDS_DB_URL": f"sqlite:///{WORK / 'records.db'}"}
    started = time.monotonic()
    procs = [spawn([RASA, "run", "actions", "--actions", "actions", "--port", str(action_port)], ROOT,
                   WORK / "actions.log", store),
             spawn([RASA, "run", "--model", str(WORK / "models/ours.tar.gz"), "--endpoints", str(WORK / "endpoints.yml"),
                    "--credentials", "credentials.yml", "--port", str(rasa_port), "--interface", "127.0.0.1"], ROOT,
                   WORK / "ours.log", store)]
    try:
        serve(result, f"http://127.0.0.1:{rasa_port}", [p.pid for p in procs], started, seconds)
    finally:
        stop(procs)
    return result


def bench_cluster(seconds: float) -> Result:
    result = Result("ours, 2-replica cluster")
    directory = WORK / "cluster"
    port = 8200
    subprocess.run([str(ROOT / "scripts/cluster.sh"), "start", str(directory), str(port)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        pids = [int((directory / "pids" / name).read_text()) for name in ("rasa-1", "rasa-2", "actions")]
        serve(result, f"http://127.0.0.1:{port}", pids, 0, seconds)
    finally:
        subprocess.run([str(ROOT / "scripts/cluster.sh"), "stop", str(directory)], cwd=ROOT)
    return result


def table(results: List[Result]) -> str:
    lines = ["| assistant | train s | start to first answer s | peak MB | concurrency | turns/s | p50 ms | p95 ms "
             "| p99 ms | errors | empty replies |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for i, (concurrency, load) in enumerate(sorted(r.loads.items())):
            head = [r.name, f"{r.train_seconds:.0f}" if r.train_seconds else "-",
                    f"{r.start_seconds:.1f}" if r.start_seconds else "-", f"{r.peak_mb:.0f}"] if i == 0 else ["", "", "", ""]
            lines.append("| " + " | ".join(head + [str(concurrency), f"{load.turns / load.seconds:.1f}",
                                                   f"{load.percentile(50):.0f}", f"{load.percentile(95):.0f}",
                                                   f"{load.percentile(99):.0f}", str(load.errors), str(load.empty)]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20, help="duration of each load step")
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    results = [bench_stock(args.seconds), bench_ours(args.seconds)]
    if not args.skip_cluster:
        results.append(bench_cluster(args.seconds))
    print(table(results))
    stock, ours = results[0].loads[10], results[1].loads[10]
    ratio = (ours.turns / ours.seconds) / (stock.turns / stock.seconds)
    print(f"\nat 10 concurrent conversations: {ratio:.1f}x the stock assistant's throughput (target 3x), "
          f"p95 {ours.percentile(95):.0f} ms (target < 150 ms), errors {ours.errors}")


if __name__ == "__main__":
    main()
