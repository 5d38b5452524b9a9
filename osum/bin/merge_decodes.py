#!/usr/bin/env python3
"""Join the decode jobs of a test set: results.jsonl, the Kaldi-style files, skipped.

python -m osum.bin.merge_decodes --out exp/osum/decode_test exp/osum/decode_test/logdir/output.*

Every job dir must exist and hold its results (a job that has not run is an error, not
an empty part). The utterances a job skipped are listed, with the reason, in
``<out>/skipped``.
"""

import argparse
import json
from pathlib import Path

from osum.cli import run
from osum.decode.data_dir import (
    RESULTS,
    SKIPPED,
    read_done,
    read_skipped,
    write_kaldi_files,
    write_skipped,
)
from osum.files import atomic_open, write_text


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("job_dirs", nargs="+")
    args = parser.parse_args(cmd)
    rows, skipped = {}, {}
    for d in map(Path, args.job_dirs):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: no such decode job dir")
        if not (d / RESULTS).is_file():
            raise FileNotFoundError(f"{d}: no {RESULTS} (has the decode job run?)")
        rows.update(read_done(d))
        skipped.update(read_skipped(d))
    skipped = {u: why for u, why in skipped.items() if u not in rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / RESULTS) as f:
        for utt in sorted(rows):
            f.write(json.dumps(rows[utt], ensure_ascii=False) + "\n")
    write_kaldi_files(out, list(rows.values()))
    write_skipped(out, skipped)
    options = Path(args.job_dirs[0]) / "decode_options.json"
    if options.is_file():  # the same in every job
        write_text(out / "decode_options.json", options.read_text(encoding="utf-8"))
    print(
        f"merge_decodes: {len(rows)} utterances -> {out}"
        + (f" ({len(skipped)} skipped, listed in {out / SKIPPED})" if skipped else "")
    )


if __name__ == "__main__":
    run(main)
