"""Peak memory of reading a WenetSpeech-sized metadata json: streamed vs json.load.

A synthetic ``WenetSpeech.json`` in the release's layout (``audios`` with ``segments``,
``subsets``, Chinese text) of ``--audios`` recordings is written to a temporary dir; then,
each in a fresh process, ``osum.corpora.common.iter_json_array`` walks its recordings and
``json.load`` reads it whole. Both count the segments; the peak resident memory
(``ru_maxrss``) and the time of each are printed as JSON.
Target: the streamed peak stays under 200 MB whatever the file's size.

    python bench/metadata_stream.py --audios 20000 --segments 50
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

READERS = {
    "stream": (
        "from osum.corpora.common import iter_json_array\n"
        "n = sum(len(a['segments']) for a in iter_json_array(PATH, 'audios'))\n"
    ),
    "json.load": (
        "import json\n"
        "with open(PATH, encoding='utf-8') as f:\n"
        "    n = sum(len(a['segments']) for a in json.load(f)['audios'])\n"
    ),
}
PROBE = (
    "import resource, sys, time\n"
    "PATH = sys.argv[1]\n"
    "t = time.perf_counter()\n"
    "{body}"
    "print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def write_json(path: Path, audios: int, segments: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"dataset": "WenetSpeech", "language": "Chinese", "version": "v1.0",\n')
        f.write(' "audios": [\n')
        for a in range(audios):
            aid = f"Y{a:010d}"
            segs = [
                {
                    "sid": f"{aid}_S{s:05d}",
                    "begin_time": s * 3.0,
                    "end_time": s * 3.0 + 2.5,
                    "text": "怎么样这些日子住得还习惯吧",
                    "confidence": 1.0,
                    "subsets": ["L", "M"] if s % 10 else ["L", "M", "S"],
                }
                for s in range(segments)
            ]
            audio = {
                "aid": aid,
                "path": f"audio/train/youtube/B{a // 1000:05d}/{aid}.opus",
                "duration": segments * 3.0,
                "source": "youtube",
                "segments": segs,
            }
            f.write(("," if a else "") + json.dumps(audio, ensure_ascii=False) + "\n")
        f.write("]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audios", type=int, default=20000)
    parser.add_argument("--segments", type=int, default=50, help="segments per recording")
    args = parser.parse_args()
    out = {"audios": args.audios, "segments": args.audios * args.segments}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "WenetSpeech.json"
        write_json(path, args.audios, args.segments)
        out["json_mb"] = round(path.stat().st_size / 2**20, 1)
        for name, body in READERS.items():
            code = PROBE.format(body=body)
            res = subprocess.run(
                [sys.executable, "-c", code, str(path)], capture_output=True, text=True
            )
            if res.returncode:
                sys.exit(f"{name}: {res.stderr[-2000:]}")
            n, secs, rss_kb = res.stdout.split()
            if int(n) != out["segments"]:
                sys.exit(f"{name}: counted {n} segments, wrote {out['segments']}")
            out[name] = {"seconds": round(float(secs), 2), "peak_mb": round(int(rss_kb) / 1024, 1)}
    out["target_stream_peak_mb"] = 200
    out["met"] = out["stream"]["peak_mb"] < 200
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
