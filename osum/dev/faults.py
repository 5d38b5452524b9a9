"""Fault runs: a recipe killed at random moments in every stage, run again as a user
would, and its results compared with those of an uninterrupted run.

    python bench/faults.py --passes 4 --seed 0 --out /tmp/faults

A pass starts from an empty copy of the recipe and goes through :data:`MOMENTS` in
order. For each one it starts ``./run.sh`` (the same command every time) in a process
group of its own, waits for the moment's first sign, waits a seeded random delay more,
and SIGKILLs the whole group, as a lost node or ``kill -9 -PGID`` would. It then checks
that no process of the killed run is left (none in its group, none working in the recipe
dir) and goes on with the next moment. A final run finishes the pass; its data dirs,
dumps, models, decodes and scores are compared with the uninterrupted run's: text files
byte for byte, ``.pth`` files tensor by tensor (bitwise). Every kill, with its seed, delay
and what was running when it landed, goes into the report.

A moment's sign is a process of the run (a module of ``osum.bin`` in its command line) or,
for the writes that matter most (ESPnet's checkpoints, the n-best average), a fail point:
``OSUM_FAILPOINT`` makes :func:`osum.files.atomic_path` pause between the temporary file
and its rename, and the kill lands there.
"""

import fcntl
import fnmatch
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from osum.dev.recipe import copy_recipe, recipe_env

# a small configuration of mini_osum: every task, every training phase (two epochs each,
# so that resuming and the n-best average happen), decoding in two jobs, scoring
RECIPE = "mini_osum"
DATA = "--train 4 --dev 2 --test 2 --whisper_dim 64 --llm_dim 64 --llm_layers 2"
COMMAND = ["./run.sh", "--local_data_opts", DATA, "--train_args", "--max_epoch 2"]


@dataclass
class Moment:
    name: str
    stage: int
    module: str = ""  # the sign: a process running python -m osum.bin.<module> ...
    args: str = ""  # ... with this in its command line
    failpoint: str = ""  # or a write to a path (a glob, in the recipe) paused before its rename
    delay: float = 0.0  # the kill comes a random 0..delay seconds after the sign


MOMENTS = [
    Moment("data preparation", 1, "mini_corpus", delay=4.0),
    Moment("task information", 1, "prepare_task_info", delay=0.5),
    Moment("dump", 2, "dump", "--job", delay=2.0),
    Moment("dump merge", 2, "dump", "--merge", delay=0.3),
    Moment("training 1_encoder", 3, "osum_train", "1_encoder", delay=8.0),
    Moment("checkpoint writing", 3, failpoint="exp/osum/2_llm/checkpoint.pth"),
    Moment("training 2_llm", 3, "osum_train", "2_llm", delay=4.0),
    Moment("model averaging", 3, failpoint="exp/osum/2_llm/valid.*.ave_*best.pth"),
    Moment("text training 2t_answers", 3, "llm_text_train", delay=4.0),
    Moment("training 3_all", 3, "osum_train", "3_all", delay=10.0),
    Moment("decoding", 4, "osum_inference", delay=6.0),
    Moment("decode merge", 4, "merge_decodes", delay=0.3),
    Moment("scoring", 5, "osum_score", delay=2.0),
    Moment("results", 5, "make_results", delay=0.5),
]

# what a rerun must never say after a kill
REFUSALS = ("was dumped with", "was decoded with", "was prepared with", "another run is using")


def _processes() -> Dict[int, dict]:
    """Every live process: pid -> {pgid, cmdline, cwd}."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            try:
                cwd = os.readlink(d / "cwd")
            except OSError:
                cwd = ""
            out[int(d.name)] = {
                "pgid": int(fields[2]),
                "cmd": [c.decode(errors="replace") for c in cmd if c],
                "cwd": cwd,
            }
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return out


def _running(procs: Dict[int, dict], pgid: int) -> List[str]:
    """The osum.bin modules (with a word of their arguments) running in a group."""
    found = []
    for p in procs.values():
        if p["pgid"] != pgid or "-m" not in p["cmd"]:
            continue
        i = p["cmd"].index("-m")
        if i + 1 < len(p["cmd"]) and p["cmd"][i + 1].startswith("osum.bin."):
            found.append(" ".join(p["cmd"][i + 1 :]))
    return found


def _shows(moment: Moment, running: List[str]) -> bool:
    return any(r.split()[0] == f"osum.bin.{moment.module}" and moment.args in r for r in running)


def _survivors(pgid: int, recipe: Path, seconds: float = 10.0) -> List[str]:
    """Processes of a killed run still alive after ``seconds``: in its group, or working
    in its recipe dir."""
    deadline = time.time() + seconds
    while True:
        left = [
            f"{pid} {' '.join(p['cmd'])[:100]}"
            for pid, p in _processes().items()
            if pid != os.getpid()
            and (p["pgid"] == pgid or p["cwd"] == str(recipe) or p["cwd"].startswith(f"{recipe}/"))
        ]
        if not left or time.time() > deadline:
            return left
        time.sleep(0.05)


def _lock_holders(recipe: Path, seconds: float = 10.0) -> List[str]:
    """Processes that still hold the recipe's run lock (exp/.lock) after a kill."""
    lock = recipe / "exp" / ".lock"
    if not lock.exists():
        return []
    deadline = time.time() + seconds
    with open(lock) as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
                return []
            except BlockingIOError:
                if time.time() > deadline:
                    break
                time.sleep(0.05)
    holders = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == str(lock.resolve()):
                pid = fd.parts[2]
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                holders.append(f"{pid} {cmd.decode(errors='replace')[:100]} (holds exp/.lock)")
        except OSError:
            continue
    return holders or ["exp/.lock held by no process found"]


@dataclass
class Kill:
    pass_: int
    moment: str
    stage: int
    delay: float
    landed_in: List[str] = field(default_factory=list)
    survivors: List[str] = field(default_factory=list)
    hit: bool = True  # False: the run ended before the moment showed


def fresh_copy(dest: Path) -> Path:
    """A copy of the recipe with its own copy of osum.sh: bash reads a script as it runs,
    so an edit of the checkout's engine during a long fault run must not reach it."""
    recipe = copy_recipe(RECIPE, dest)
    engine = recipe / "osum.sh"
    target = engine.resolve()
    engine.unlink()
    shutil.copy2(target, engine)
    return recipe


def _start(recipe: Path, log: Path, env: dict, command=COMMAND) -> subprocess.Popen:
    with open(log, "ab") as f:
        return subprocess.Popen(
            command, cwd=recipe, stdout=f, stderr=f, env=env, start_new_session=True
        )


def _paused(recipe: Path, failpoint: str) -> bool:
    """Is a write to a path matching ``failpoint`` (relative to the recipe) paused at its
    temporary file (``.<name>.<pid>.tmp``)?"""
    where = recipe / Path(failpoint).parent
    pattern = f".{Path(failpoint).name}.*.tmp"
    return where.is_dir() and any(fnmatch.fnmatch(p.name, pattern) for p in where.iterdir())


def kill_at(
    recipe: Path, moment: Moment, rng: random.Random, log: Path, pass_: int, command=COMMAND
) -> Kill:
    """One run of the recipe, killed at ``moment`` (or let finish if it never shows)."""
    env = recipe_env()
    if moment.failpoint:
        env.update(OSUM_FAILPOINT=f"{recipe}/{moment.failpoint}", OSUM_FAILPOINT_SECONDS="30")
    delay = round(rng.uniform(0, moment.delay), 3)
    with open(log, "a") as f:
        f.write(f"\n===== pass {pass_}: kill at {moment.name} (+{delay} s)\n")
    proc = _start(recipe, log, env, command)
    shown = None
    while proc.poll() is None:
        if shown is None:
            if moment.failpoint:
                hit = _paused(recipe, moment.failpoint)
            else:
                hit = _shows(moment, _running(_processes(), proc.pid))
            if hit:
                shown = time.time()
        if shown is not None and time.time() - shown >= delay:
            landed = _running(_processes(), proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            left = _survivors(proc.pid, recipe) + _lock_holders(recipe)
            for pid in left:  # counted, and stopped so that the pass can go on
                try:
                    os.kill(int(pid.split()[0]), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            return Kill(pass_, moment.name, moment.stage, delay, landed, left)
        time.sleep(0.01)
    return Kill(pass_, moment.name, moment.stage, delay, hit=False)


# not results: logs, the stage records' wall times, training curves (drawn from the
# reporter's times), the lock, temporary files of killed writes
SKIP = [
    "exp/.lock",
    "*.log",
    "*/logdir/*",
    "*/logs/*",
    "exp/*/stages/*",
    "*/images/*",
    "*/tensorboard/*",
    "*.tmp",
    "*.tmp.*",
]
DATES = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d)?")
RESULTS = ("RESULTS.md", "RESULTS.json")


def _files(root: Path) -> Dict[str, Path]:
    out = {}
    for top in ("data", "dump", "models", "exp", *RESULTS):
        base = root / top
        paths = [base] if base.is_file() else base.rglob("*") if base.is_dir() else []
        for p in paths:
            rel = str(p.relative_to(root))
            if (p.is_file() or p.is_symlink()) and not any(fnmatch.fnmatch(rel, g) for g in SKIP):
                out[rel] = p
    return out


def _same_states(a, b) -> bool:
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same_states(a[k], b[k]) for k in a)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_states(x, y) for x, y in zip(a, b))
    return a == b


def _same_file(rel: str, a: Path, b: Path, roots, aliases=None) -> str | None:
    """None if ``a`` and ``b`` hold the same results, else what differs."""
    if a.is_symlink() or b.is_symlink():
        return None if os.readlink(a) == os.readlink(b) else "other link target"
    if rel.endswith(".pth"):
        from osum.train.espnet_io import load

        x, y = load(a, map_location="cpu"), load(b, map_location="cpu")
        if a.name == "checkpoint.pth":  # the reporter holds times; the states must agree
            x, y = ({k: v for k, v in s.items() if k != "reporter"} for s in (x, y))
        return None if _same_states(x, y) else "other tensors"
    x, y = a.read_bytes(), b.read_bytes()
    if x == y:
        return None
    try:  # text: the same but for the recipe's own path (wav.scp lists absolute paths)
        x, y = x.decode(), y.decode()
    except UnicodeDecodeError:
        return "other bytes"
    for alias, name in (aliases or {}).items():
        y = y.replace(alias, name)
    x, y = x.replace(str(roots[0]), "<recipe>"), y.replace(str(roots[1]), "<recipe>")
    if a.name == ".done":  # a dump's: options, and a digest of its data dir (with its paths)
        x, y = (re.sub(r" data=\w+", "", t) for t in (x, y))
    if a.name == "RESULTS.md":  # its stage table (wall times) and dates are no results
        x, y = (DATES.sub("DATE", t.split("\n## ", 1)[-1]) for t in (x, y))
    elif a.suffix == ".json":  # wall times, and the stage records, are no results
        x, y = (json.dumps(_no_times(json.loads(t)), sort_keys=True) for t in (x, y))
        x, y = (DATES.sub("DATE", t) for t in (x, y))
    return None if x == y else "other content"


def _no_times(obj):
    if isinstance(obj, dict):
        return {k: _no_times(v) for k, v in obj.items() if k not in ("stages", "seconds")}
    if isinstance(obj, list):
        return [_no_times(v) for v in obj]
    return obj


def compare(
    reference: Path, other: Path, aliases: Dict[str, str] | None = None, reference_root=None
) -> List[str]:
    """What differs between two runs' results (empty: identical). ``aliases``: other
    names of ``other``'s paths (a dir on another disk behind a link), replaced in text;
    ``reference_root``: the recipe dir the reference ran in, where its results are a copy."""
    ref, got = _files(reference), _files(other)
    diffs = [f"missing: {r}" for r in sorted(ref.keys() - got.keys())]
    diffs += [f"extra: {r}" for r in sorted(got.keys() - ref.keys())]
    for rel in sorted(ref.keys() & got.keys()):
        what = _same_file(
            rel,
            ref[rel],
            got[rel],
            (Path(reference_root or reference).resolve(), other.resolve()),
            aliases,
        )
        if what:
            diffs.append(f"{what}: {rel}")
    return diffs


def leftovers(root: Path) -> List[str]:
    """Temporary files left by killed writes (never read: no step trusts them)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp"))


def finish(recipe: Path, log: Path, command=COMMAND) -> int:
    """The last run of a pass, to its end: its exit status."""
    with open(log, "a") as f:
        f.write("\n===== to the end\n")
    return _start(recipe, log, recipe_env(), command).wait()


def refusals(log: Path) -> List[str]:
    """Lines of a pass's log where a rerun was refused."""
    text = log.read_text(errors="replace")
    return [line for line in text.splitlines() if any(r in line for r in REFUSALS)]


def run_pass(workdir: Path, pass_: int, seed: int, moments=MOMENTS) -> dict:
    """One pass: a fresh recipe copy killed at every moment, then run to its end."""
    rng = random.Random(f"{seed}:{pass_}")
    recipe = fresh_copy(workdir / f"pass{pass_}")
    log = recipe / "faults.log"
    kills = [kill_at(recipe, m, rng, log, pass_) for m in moments]
    final = finish(recipe, log)
    return {"recipe": str(recipe), "kills": kills, "final_status": final, "refused": refusals(log)}


def reference_run(workdir: Path) -> Path:
    """The uninterrupted run the passes are compared with (kept when there already)."""
    recipe = workdir / "reference" / RECIPE / "osum1"
    if (workdir / "reference" / ".done").is_file():
        return recipe
    if recipe.parent.parent.exists():
        shutil.rmtree(recipe.parent.parent)
    recipe = fresh_copy(workdir / "reference")
    log = recipe / "faults.log"
    status = _start(recipe, log, recipe_env()).wait()
    if status != 0:
        raise RuntimeError(f"the uninterrupted run failed ({status}): see {log}")
    (workdir / "reference" / ".done").touch()
    return recipe


def run(workdir: Path, passes: int, seed: int, moments=MOMENTS) -> dict:
    """Passes of kills and reruns; the report of :mod:`bench.faults` (JSON-ready)."""
    workdir = workdir.resolve()  # fail points and the survivors' check match absolute paths
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    reference = reference_run(workdir)
    reference_s = time.time() - t0
    report = {"seed": seed, "passes": [], "reference_s": round(reference_s)}
    for i in range(passes):
        t = time.time()
        p = run_pass(workdir, i, seed, moments)
        recipe = Path(p["recipe"])
        diffs = compare(reference, recipe) if p["final_status"] == 0 else ["the final run failed"]
        report["passes"].append(
            {
                "pass": i,
                "seconds": round(time.time() - t),
                "kills": [vars(k) for k in p["kills"]],
                "final_status": p["final_status"],
                "refused": p["refused"],
                "differences": diffs,
                "leftover_temporaries": len(leftovers(recipe)),
            }
        )
    kills = [k for p in report["passes"] for k in p["kills"] if k["hit"]]
    stages: Dict[str, int] = {}
    for k in kills:
        stages[str(k["stage"])] = stages.get(str(k["stage"]), 0) + 1
    report["summary"] = {
        "kills": len(kills),
        "kills_per_stage": stages,
        "missed_moments": sum(not k["hit"] for p in report["passes"] for k in p["kills"]),
        "survivors": sum(len(k["survivors"]) for k in kills),
        "refused_reruns": sum(len(p["refused"]) for p in report["passes"]),
        "passes_finished": sum(p["final_status"] == 0 for p in report["passes"]),
        "passes_identical": sum(not p["differences"] for p in report["passes"]),
        "passes": len(report["passes"]),
    }
    return report


def _mount(where: Path, size_kb: int, remount: bool = False) -> None:
    opts = f"remount,size={size_kb}k" if remount else f"size={size_kb}k"
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], check=True)


def _used_kb(mount: Path) -> int:
    """What a filesystem holds (KiB, in whole pages, as tmpfs counts it)."""
    st = os.statvfs(mount)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def _du_kb(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) // 1024


def disk_full(workdir: Path, reference: Path) -> List[dict]:
    """Stages 2, 3 and 4 with their output on a tmpfs that fills up part-way (needs root
    for ``mount``): each must fail naming the path and the full disk, leave nothing a
    rerun would trust, and finish once the space is there. The end results are compared
    with the uninterrupted run's."""
    workdir = workdir.resolve()
    recipe = fresh_copy(workdir / "disk_full")
    log = recipe / "faults.log"
    disk = workdir / "disk_full" / "tmpfs"
    disk.mkdir()
    cases = []

    def stages(first, last):
        with open(log, "a") as f:
            f.write(f"\n===== stages {first}-{last}\n")
        start = log.stat().st_size
        cmd = [*COMMAND, "--stage", str(first), "--stop_stage", str(last)]
        with open(log, "ab") as f:
            status = subprocess.run(
                cmd, cwd=recipe, stdout=f, stderr=f, env=recipe_env()
            ).returncode
        return status, log.read_text(errors="replace")[start:]

    status, _ = stages(1, 1)
    if status:
        raise RuntimeError(f"stage 1 failed: see {log}")
    # dump/ and exp/ on the small disk; each stage gets about half the room it needs
    need = {2: _du_kb(reference / "dump"), 3: _du_kb(reference / "exp")}
    _mount(disk, max(need[2] // 2, 64))
    try:
        for name in ("dump", "exp"):  # (stage 1 made exp/, for the run's lock)
            if (recipe / name).is_dir():
                shutil.move(recipe / name, disk / name)
            else:
                (disk / name).mkdir()
            (recipe / name).symlink_to(disk / name)
        for stage in (2, 3, 4):
            used = _used_kb(disk)
            # stage 4 writes little: no more room than what is there already
            room = {2: need[2] // 2, 3: need[2] + need[3] // 2, 4: used}[stage]
            _mount(disk, max(room, used), remount=True)
            status, text = stages(stage, stage)
            said = [
                line
                for line in text.splitlines()
                if "No space left on device" in line or "disk full" in line.lower()
            ]
            _mount(disk, 4 * (need[2] + need[3]) + 4096, remount=True)  # space freed
            again, _ = stages(stage, stage)
            cases.append(
                {
                    "stage": stage,
                    "failed": status != 0,
                    "said_disk_full": said[:3],
                    "rerun_status": again,
                }
            )
        status, _ = stages(5, 5)
        # the dump's wav.scp names its files by their real path, on the small disk
        aliases = {str(disk / "dump"): str(recipe / "dump")}
        diffs = compare(reference, recipe, aliases) if status == 0 else ["stage 5 failed"]
        for c in cases:
            c["identical_at_end"] = not diffs
        if diffs:
            cases.append({"differences": diffs[:20]})
    finally:
        for name in ("dump", "exp"):  # the results, kept off the tmpfs
            if (recipe / name).is_symlink():
                (recipe / name).unlink()
                shutil.copytree(disk / name, recipe / name, symlinks=True)
        subprocess.run(["umount", str(disk)], check=False)
    return cases
