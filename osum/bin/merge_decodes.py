#!/usr/bin/env python3
"""Join the decode jobs of a test set: results.jsonl and the Kaldi-style files.

python -m osum.bin.merge_decodes --out exp/osum/decode_test exp/osum/decode_test/logdir/output.*
"""

import argparse
import json
from pathlib import Path

from osum.decode.data_dir import RESULTS, read_done, write_kaldi_files


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("job_dirs", nargs="+")
    args = parser.parse_args(cmd)
    rows = {}
    for d in args.job_dirs:
        rows.update(read_done(Path(d)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / RESULTS, "w", encoding="utf-8") as f:
        for utt in sorted(rows):
            f.write(json.dumps(rows[utt], ensure_ascii=False) + "\n")
    write_kaldi_files(out, list(rows.values()))
    options = Path(args.job_dirs[0]) / "decode_options.json"
    if options.is_file():  # the same in every job
        (out / "decode_options.json").write_text(
            options.read_text(encoding="utf-8"), encoding="utf-8"
        )
    print(f"merge_decodes: {len(rows)} utterances -> {out}")


if __name__ == "__main__":
    main()
