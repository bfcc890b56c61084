"""The two-replica cluster (scripts/cluster.sh: PostgreSQL, Redis, nginx, two Rasa replicas):
200 concurrent conversations of 10 turns, turns of one conversation answered by both replicas; every
tracker holds every turn in order with exactly the replies the patient got. Then the same while one
replica is stopped halfway through."""
import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = 200
QUESTIONS = [  # ten turns; none is a red flag, so no escalation is recorded
    "hello", "what is botox", "is it for wrinkles", "how long does the appointment take", "does it hurt",
    "what should i do afterwards", "when will i see results", "how long will it last", "what are the side effects",
    "thanks, bye",
]


def _free_port_block(size: int) -> int:
    for base in range(20000, 60000, 97):
        try:
            sockets = []
            for port in range(base, base + size):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


@pytest.fixture(scope="module")
def cluster():
    # Not under pytest's private tmp: PostgreSQL's own user must reach its data directory.
    directory = Path(tempfile.mkdtemp(prefix="botox-cluster-"))
    port = _free_port_block(6)
    script = str(ROOT / "scripts/cluster.sh")
    started = subprocess.run([script, "start", str(directory), str(port)], cwd=ROOT, capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        env = dict(line.split("=", 1) for line in (directory / "cluster.env").read_text().split())
        yield env, directory
    finally:
        subprocess.run([script, "stop", str(directory)], cwd=ROOT)
        shutil.rmtree(directory, ignore_errors=True)


async def _conversation(session, url, sender, served_by, failures, progress):
    turns = []
    for question in QUESTIONS:
        try:
            async with session.post(url + "/webhooks/rest/webhook", json={"sender": sender, "message": question},
                                    timeout=aiohttp.ClientTimeout(total=120)) as response:
                body = await response.text()
                if response.status != 200:
                    failures.append((sender, question, response.status, body[:200]))
                    return turns
                turns.append((question, [m.get("text") for m in json.loads(body)]))
                served_by[sender].add(response.headers.get("X-Served-By"))
                progress["turns"] += 1
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            failures.append((sender, question, "error", repr(e)))
            return turns
    return turns


async def _run(url, prefix, during=None):
    served_by, failures, progress = defaultdict(set), [], {"turns": 0}
    # A new connection per request: the rolling stop reloads nginx, which closes idle keep-alive
    # connections, and a request sent on one at that moment fails before reaching any replica (a
    # client error to re-send, not what this test is about: what the replicas do with the turns).
    connector = aiohttp.TCPConnector(limit=CONVERSATIONS, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(_conversation(session, url, f"{prefix}-{i}", served_by, failures, progress))
                 for i in range(CONVERSATIONS)]
        if during:
            await during(progress)
        results = await asyncio.gather(*tasks)
    return {f"{prefix}-{i}": turns for i, turns in enumerate(results)}, served_by, failures


def _stored_turns(conn, sender):
    """(user text, [bot texts]) per turn, from the tracker store, in stored order."""
    rows = conn.execute(sa.text("select type_name, data from events where sender_id = :s order by id"),
                        {"s": sender}).fetchall()
    turns, opening = [], []  # the disclaimer is sent at session start, before the first message is stored
    for type_name, data in rows:
        event = json.loads(data)
        if type_name == "user":
            turns.append((event["text"], opening if not turns else []))
        elif type_name == "bot":
            (turns[-1][1] if turns else opening).append(event.get("text"))
    return turns


def _check_every_tracker(env, conversations):
    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            for sender, turns in conversations.items():
                assert len(turns) == len(QUESTIONS), sender
                assert _stored_turns(conn, sender) == turns, sender
    finally:
        engine.dispose()


def test_200_conversations_across_two_replicas_lose_and_duplicate_nothing(cluster):
    env, _ = cluster
    conversations, served_by, failures = asyncio.run(_run(env["CLUSTER_URL"], "steady"))
    assert failures == []
    _check_every_tracker(env, conversations)
    replicas = set().union(*served_by.values())
    assert len(replicas) == 2
    moved = sum(1 for used in served_by.values() if len(used) == 2)
    # Round robin interleaves the concurrent conversations' turns: most meet both replicas (149 to
    # 190 of 200 in our runs, depending on how the replicas' speeds line up).
    assert moved >= CONVERSATIONS // 2, moved
    print(f"{moved}/{CONVERSATIONS} conversations had turns answered by both replicas")


def test_stopping_a_replica_mid_run_loses_nothing(cluster):
    env, directory = cluster
    replica_pid = int((directory / "pids" / "rasa-2").read_text())
    stopping = []

    async def stop_replica_halfway(progress):
        while progress["turns"] < CONVERSATIONS * len(QUESTIONS) // 2:
            await asyncio.sleep(0.05)
        # Drained out of nginx, then SIGTERM: what an orchestrator's rolling stop does.
        stop = await asyncio.create_subprocess_exec(
            str(ROOT / "scripts/cluster.sh"), "stop-replica", str(directory), "2", cwd=ROOT)
        stopping.append(await stop.wait())

    conversations, served_by, failures = asyncio.run(_run(env["CLUSTER_URL"], "failover", stop_replica_halfway))
    assert failures == []
    assert stopping == [0], "the replica was not stopped during the run"
    _check_every_tracker(env, conversations)
    replica_2 = env["REPLICA_2_URL"].rsplit(":", 1)[1]
    assert any(addr and addr.endswith(replica_2) for used in served_by.values() for addr in used)
    with pytest.raises(ProcessLookupError):
        os.kill(replica_pid, 0)
