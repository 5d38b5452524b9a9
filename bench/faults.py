#!/usr/bin/env python3
"""Kill-and-rerun passes over a small mini_osum run (osum.dev.faults); prints the report.

Each pass kills the recipe's process group once at each moment of osum.dev.faults.MOMENTS
(every stage: preparation, dump, each training phase, checkpoint writing and averaging,
decoding and its merge, scoring), reruns the same command, and at the end compares
every result with an uninterrupted run's. Targets: no process survives a kill, no rerun
is refused, every pass ends with results identical to the uninterrupted run's.

With --disk_full (root: it mounts a tmpfs), stages 2, 3 and 4 also run with their output
on a disk that fills up part-way: each must fail naming the path and the full disk, and
finish, with the same results, once there is room.

    python bench/faults.py [--passes 4] [--seed 0] [--disk_full] [--out /tmp/osum_faults] [--json F]
"""

import argparse
import json
import tempfile
from pathlib import Path

from osum.dev.faults import disk_full, reference_run, run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "osum_faults")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument("--disk_full", action="store_true", help="the full-disk cases too")
    args = parser.parse_args()
    report = run(args.out, args.passes, args.seed)
    if args.disk_full:
        cases = disk_full(args.out, reference_run(args.out))
        report["disk_full"] = cases
        report["summary"]["disk_full"] = {
            "cases": sum("stage" in c for c in cases),
            "named": sum(bool(c.get("said_disk_full")) for c in cases),
            "finished_after": sum(c.get("rerun_status") == 0 for c in cases),
            "identical": all(c.get("identical_at_end", True) for c in cases),
        }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"]))


if __name__ == "__main__":
    main()
