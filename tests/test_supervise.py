"""make run's supervision (scripts/supervise.sh): a part that exits is started again, so a killed
action server never takes the Rasa server's escalations down with it, and stopping it stops the part."""
import os
import signal
import subprocess

from conftest import ROOT, eventually

SCRIPT = 'source scripts/supervise.sh; supervise "test part" sh -c "echo started >> \\"$LOG\\"; exec sleep 30"'


def _start(log_path):
    return subprocess.Popen(["bash", "-c", SCRIPT], cwd=ROOT, env={**os.environ, "LOG": str(log_path)},
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_a_killed_part_is_started_again_and_stopping_the_supervisor_stops_it(tmp_path):
    log = tmp_path / "starts.log"
    supervisor = _start(log)
    try:
        assert eventually(lambda: log.exists() and log.read_text().count("started") == 1)
        child = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout.split()
        assert len(child) == 1
        os.kill(int(child[0]), signal.SIGKILL)
        assert eventually(lambda: log.read_text().count("started") == 2), "the killed part was not started again"
        restarted = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout.split()
        assert restarted and restarted != child
    finally:
        supervisor.terminate()
        _, stderr = supervisor.communicate(timeout=10)
    assert "the test part exited (137); starting it again" in stderr
    assert eventually(lambda: not subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True).stdout)
    assert eventually(lambda: not _running(restarted[0])), "stopping the supervisor left its part running"


def _running(pid: str) -> bool:
    """Alive and not a zombie waiting to be reaped (its parent, the supervisor, is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
