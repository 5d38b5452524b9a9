"""utils/run.pl: the local job runner."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[2] / "utils"

JOB_SCRIPT = """echo "start $1" >> events
sleep 0.3
echo "end $1" >> events
"""


def max_concurrency(path):
    running = peak = 0
    for line in path.read_text().splitlines():
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    return peak


def check_log(lines, command, body, code):
    assert lines[0] == f"# {command}"
    assert re.fullmatch(r"# Started at \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \S+ \d{4}", lines[1])
    assert lines[2:-2] == body
    assert re.fullmatch(r"# Accounting: time=\d+ threads=1", lines[-2])
    assert re.fullmatch(rf"# Ended \(code {code}\) at .+ \d{{4}}", lines[-1])


def test_single_job(run, read, tmp_path):
    r = run("run.pl", "exp/a/b/log/hello.log", "echo", "hello", "world", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    check_log(read(tmp_path / "exp/a/b/log/hello.log"), "echo hello world", ["hello world"], 0)


def test_array_job_substitutes_job(run, read, tmp_path):
    r = run("run.pl", "JOB=1:3", "log/x.JOB.log", "echo", "part JOB of 3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for i in (1, 2, 3):
        check_log(read(tmp_path / f"log/x.{i}.log"), f"echo 'part {i} of 3'", [f"part {i} of 3"], 0)
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["x.1.log", "x.2.log", "x.3.log"]


def test_single_index_and_other_variable_name(run, tmp_path):
    r = run("run.pl", "JOB=2", "log/y.JOB.log", "echo", "JOB", cwd=tmp_path)
    assert r.returncode == 0
    assert [p.name for p in (tmp_path / "log").iterdir()] == ["y.2.log"]
    r = run("run.pl", "SPLIT=3:4", "log/z.SPLIT.log", "echo", "SPLIT", cwd=tmp_path)
    assert r.returncode == 0
    assert (tmp_path / "log/z.4.log").read_text().splitlines()[2] == "4"


def test_pipes_and_quoting(run, read, tmp_path):
    r = run("run.pl", "log/p.log", "echo", "it's a b", "|", "tr", "a-z", "A-Z", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    check_log(read(tmp_path / "log/p.log"), "echo 'it'\\''s a b' | tr a-z A-Z", ["IT'S A B"], 0)


def test_failures_are_counted(run, read, tmp_path):
    r = run("run.pl", "JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "2", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr == "run.pl: 1 / 3 failed, log is in log/f.2.log\n"  # it said nothing
    assert read(tmp_path / "log/f.2.log")[-1].startswith("# Ended (code 1) at ")
    assert read(tmp_path / "log/f.1.log")[-1].startswith("# Ended (code 0) at ")
    r = run("run.pl", "JOB=1:4", "log/g.JOB.log", "test", "JOB", "-gt", "2", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr == "run.pl: 2 / 4 failed, log is in log/g.JOB.log\n"


def test_exit_code_and_stderr_in_log(run, read, tmp_path):
    r = run("run.pl", "log/e.log", "echo", "oops", ">&2", ";", "exit", "3", cwd=tmp_path)
    assert r.returncode == 1
    # the job's last words come with it: often the whole story
    assert r.stderr == "run.pl: 1 / 1 failed, log is in log/e.log\nrun.pl: log/e.log: oops\n"
    check_log(read(tmp_path / "log/e.log"), "echo oops >&2 ; exit 3", ["oops"], 3)


def test_pipefail(run, tmp_path):
    r = run("run.pl", "log/pf.log", "false", "|", "cat", cwd=tmp_path)
    assert r.returncode == 1


def test_max_jobs_run(run, tmp_path):
    (tmp_path / "job.sh").write_text(JOB_SCRIPT)
    r = run(
        "run.pl",
        "--max-jobs-run",
        "2",
        "JOB=1:4",
        "log/m.JOB.log",
        "bash",
        "job.sh",
        "JOB",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert max_concurrency(tmp_path / "events") == 2
    (tmp_path / "events").unlink()
    r = run("run.pl", "JOB=1:4", "log/m.JOB.log", "bash", "job.sh", "JOB", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert max_concurrency(tmp_path / "events") == 4


def test_cluster_options_are_ignored(run, tmp_path):
    r = run(
        "run.pl",
        "--gpu", "1", "--mem", "4G", "--num-threads", "2", "--config", "conf/none.conf",
        "--time", "1:00:00", "--max_jobs_run", "1", "JOB=1:2", "log/o.JOB.log", "true",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "log/o.2.log").exists()


def test_bad_usage(run, tmp_path):
    r = run("run.pl", "--queue", "x", "log/u.log", "true", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr == "run.pl: unknown option --queue\n"
    r = run("run.pl", "JOB=1:2", "log/u.log", "true", cwd=tmp_path)
    assert r.returncode == 1
    assert "log file 'log/u.log' does not contain JOB" in r.stderr
    r = run("run.pl", "JOB=3:2", "log/u.JOB.log", "true", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr == "run.pl: invalid job range JOB=3:2 (start > end)\n"
    r = run("run.pl", "log/u.log", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("Usage: run.pl")
    assert not (tmp_path / "log").exists()


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_dead(pids, seconds=5):
    deadline = time.time() + seconds
    while any(alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.02)
    return [pid for pid in pids if alive(pid)]


def default_signals():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def start_sleepers(tmp_path, **popen):
    """run.pl with two jobs, each a pipeline (so the job's shell does not exec it) whose
    first command sleeps: returns run.pl's process and the sleepers' pids."""
    (tmp_path / "sleeper.sh").write_text('echo $$ > "pid.$1"; exec sleep 30\n')
    # whatever this test runs under (a background job ignores SIGINT, nohup SIGHUP),
    # run.pl starts with the signals handled, as from a terminal
    proc = subprocess.Popen(
        [
            str(UTILS / "run.pl"),
            "JOB=1:2",
            "log/s.JOB.log",
            "bash",
            "sleeper.sh",
            "JOB",
            "|",
            "cat",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
        **popen,
    )
    pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
    deadline = time.time() + 10
    while not all(p.exists() and p.read_text().strip() for p in pid_files):
        assert time.time() < deadline, "the jobs did not start"
        time.sleep(0.02)
    return proc, [int(p.read_text()) for p in pid_files]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_run_pl_stops_every_process_of_the_jobs(tmp_path, sig):
    proc, pids = start_sleepers(tmp_path)
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 1
    assert proc.stderr.read() == f"run.pl: caught {sig.name}, stopping\n"
    assert not wait_dead(pids)


def test_a_sigkill_of_the_process_group_leaves_no_job(tmp_path):
    """A kill of the whole run (its process group) reaches the jobs: none goes on unseen."""
    proc, pids = start_sleepers(tmp_path, start_new_session=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert not wait_dead(pids)


def test_under_nohup_a_hang_up_stops_nothing(tmp_path):
    """SIGHUP ignored when run.pl starts (nohup, a logout): run.pl and its jobs go on."""
    proc = subprocess.Popen(
        ["nohup", str(UTILS / "run.pl"), "log/n.log", "sleep", "1", "&&", "echo", "done"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=10) == 0, proc.stderr.read()
    assert "done" in (tmp_path / "log/n.log").read_text()
