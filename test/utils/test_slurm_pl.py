"""utils/slurm.pl, with a fake sbatch that stands in for the cluster."""

import os
import re
import sys

import pytest

# The fake sbatch logs its arguments, runs the batch script in the background
# with its output in the --output file, and prints a job id, as sbatch --parsable does.
FAKE_SBATCH = """#!{python}
import os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_SBATCH_LOG"], "a") as f:
    f.write(" ".join(args) + "\\n")
if os.environ.get("FAKE_SBATCH_FAIL"):
    print("sbatch: error: invalid partition specified")
    sys.exit(1)
out = [a.split("=", 1)[1] for a in args if a.startswith("--output=")][0]
if not os.environ.get("FAKE_SBATCH_LOSE_JOBS"):
    subprocess.Popen(["bash", args[-1]], stdout=open(out, "w"), stderr=subprocess.STDOUT,
                     env=dict(os.environ, SLURM_JOB_ID="4242"), start_new_session=True)
print(4242)
"""

JOB_SCRIPT = """echo "start $1" >> events
sleep 0.3
echo "end $1" >> events
"""


@pytest.fixture
def slurm(run, tmp_path):
    sbatch = tmp_path / "bin" / "fake-sbatch"
    sbatch.parent.mkdir()
    sbatch.write_text(FAKE_SBATCH.format(python=sys.executable))
    sbatch.chmod(0o755)

    def call(*args, **env):
        full_env = dict(
            os.environ,
            SBATCH=str(sbatch),
            SQUEUE="none",
            SLURM_PL_POLL_INTERVAL="0.02",
            FAKE_SBATCH_LOG=str(tmp_path / "sbatch.args"),
        )
        full_env.update(env)
        return run("slurm.pl", *args, cwd=tmp_path, env=full_env)

    return call


def test_array_job_logs_and_markers(slurm, read, tmp_path):
    r = slurm("JOB=1:3", "exp/log/x.JOB.log", "echo", "part JOB", "|", "tr", "a-z", "A-Z")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    for i in (1, 2, 3):
        lines = read(tmp_path / f"exp/log/x.{i}.log")
        assert lines[0] == f"# echo 'part {i}' | tr a-z A-Z"
        assert lines[1].startswith("# Started at ")
        assert re.fullmatch(r"# Running on \S+ \(Slurm job 4242\)", lines[2])
        assert lines[3] == f"PART {i}"
        assert re.fullmatch(r"# Accounting: time=\d+ threads=1", lines[4])
        assert lines[5].startswith("# Ended (code 0) at ")
        assert read(tmp_path / f"exp/log/q/x.{i}.done") == ["0"]
        assert (tmp_path / f"exp/log/q/x.{i}.sh").exists()
    assert sorted(read(tmp_path / "sbatch.args")) == [
        f"--parsable --job-name=x --output=exp/log/q/x.{i}.out exp/log/q/x.{i}.sh"
        for i in (1, 2, 3)
    ]


def test_resource_options_and_config(slurm, read, tmp_path, write):
    write(
        tmp_path / "slurm.conf",
        ["# site defaults", "--partition debug", "", "--account=asr -q normal"],
    )
    r = slurm(
        "--gpu", "2", "--mem", "4G", "--num-threads", "3", "--time", "1:00:00",
        "--config", "slurm.conf", "log/t.log", "echo", "ok",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "sbatch.args") == [
        "--parsable --job-name=t --output=log/q/t.out --partition debug --account=asr -q normal"
        " --gres=gpu:2 --mem=4G --cpus-per-task=3 --time=1:00:00 log/q/t.sh"
    ]
    lines = read(tmp_path / "log/t.log")
    assert lines[3] == "ok"
    assert re.fullmatch(r"# Accounting: time=\d+ threads=3", lines[4])


def test_missing_default_config_is_ignored(slurm, tmp_path):
    r = slurm("--config", "conf/slurm.conf", "log/d.log", "true")
    assert r.returncode == 0, r.stderr
    r = slurm("--config", "conf/other.conf", "log/d.log", "true")
    assert r.returncode == 1
    assert r.stderr == "slurm.pl: config file conf/other.conf does not exist\n"


def test_bad_config_line(slurm, tmp_path, write):
    write(tmp_path / "bad.conf", ["--partition gpu", "option mem=* --mem $0"])
    r = slurm("--config", "bad.conf", "log/b.log", "true")
    assert r.returncode == 1
    assert r.stderr.startswith("slurm.pl: bad.conf: line 2: expected sbatch options")


def test_failures_are_counted(slurm, read, tmp_path):
    r = slurm("JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "2")
    assert r.returncode == 1
    assert r.stderr == "slurm.pl: 1 / 3 failed, log is in log/f.2.log\n"
    assert read(tmp_path / "log/q/f.2.done") == ["1"]
    assert read(tmp_path / "log/f.2.log")[-1].startswith("# Ended (code 1) at ")
    r = slurm("JOB=1:3", "log/g.JOB.log", "exit", "JOB")
    assert r.returncode == 1
    assert r.stderr == "slurm.pl: 3 / 3 failed, log is in log/g.JOB.log\n"


def test_sbatch_option_overrides_env(slurm, tmp_path):
    r = slurm(
        "--sbatch", str(tmp_path / "bin/fake-sbatch"), "log/o.log", "true", SBATCH="/nonexistent"
    )
    assert r.returncode == 0, r.stderr
    r = slurm("log/o.log", "true", SBATCH="/nonexistent/sbatch")
    assert r.returncode == 1
    assert "submitting log/q/o.sh failed" in r.stderr


def test_sbatch_failure_is_reported(slurm):
    r = slurm("JOB=1:2", "log/s.JOB.log", "true", FAKE_SBATCH_FAIL="1")
    assert r.returncode == 1
    assert r.stderr.startswith("slurm.pl: submitting log/q/s.1.sh failed (exit code 1): ")
    assert "sbatch: error: invalid partition specified" in r.stderr


def test_lost_job_is_detected_with_squeue(slurm, tmp_path):
    squeue = tmp_path / "bin" / "squeue"
    squeue.write_text("#!/bin/sh\nexit 0\n")  # lists no jobs
    squeue.chmod(0o755)
    r = slurm("log/l.log", "true", SQUEUE=str(squeue), FAKE_SBATCH_LOSE_JOBS="1")
    assert r.returncode == 1
    assert r.stderr == (
        "slurm.pl: Slurm job 4242 (log/q/l.sh) is no longer queued but wrote no exit code "
        "to log/q/l.done; see log/q/l.out\n"
        "slurm.pl: 1 / 1 failed, log is in log/l.log\n"
    )


def test_max_jobs_run(slurm, tmp_path):
    (tmp_path / "job.sh").write_text(JOB_SCRIPT)
    r = slurm("--max-jobs-run", "2", "JOB=1:4", "log/m.JOB.log", "bash", "job.sh", "JOB")
    assert r.returncode == 0, r.stderr
    running = peak = 0
    for line in (tmp_path / "events").read_text().splitlines():
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    assert peak == 2
