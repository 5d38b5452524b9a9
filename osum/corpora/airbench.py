"""AIR-Bench (chat benchmark): STTC on its speech items, for evaluation.

    python -m osum.corpora.airbench --root /data/AIR-Bench-Dataset --out data/test

Layout (the HF dataset ``qyang1021/AIR-Bench-Dataset``): ``<root>/Chat/Chat_meta.json``, a
list of items with ``task_name``, ``dataset_name``, ``uniq_id``, ``path``, ``question``,
``answer_gt`` and ``meta_info``; the audio is ``<root>/Chat/<task_name>_<dataset_name>/<path>``
(wav or mp3). The speech items are the ``speech_QA`` (IEMOCAP and Common Voice clips) and
``speech_dialogue_QA`` (Fisher and SpokenWOZ excerpts) tasks, 800 in all. Each becomes an
STTC utterance whose text question goes after the prompt (``utt2question``) and whose
reference reply is ``answer_gt`` (``utt2answer``). The transcript is the item's
``meta_info`` transcription: a Python-literal dict for ``speech_QA`` (read with
``ast.literal_eval``, not JSON), a JSON list of turns for the dialogues (their texts
joined). An item without one is skipped and listed, and so is one whose text is not
UTF-8 (with its line in the json). ``uniq_id``, not ``path``, is the key: one clip
carries several questions.
"""

import ast
import json
import sys
from pathlib import Path
from typing import Sequence

from osum.corpora.common import (
    DataDir,
    LayoutError,
    bad_text,
    check_layout,
    iter_json_items,
    preparer_parser,
    run_preparer,
)

SPEECH_TASKS = ("speech_QA", "speech_dialogue_QA")
TEXT_KEYS = ("transcription", "text", "content", "utterance", "sentence")
HINT = "Set AIRBENCH in db.sh to the dir holding Chat/Chat_meta.json (local/download.sh)."


def transcript(meta) -> str:
    """The spoken text in an item's ``meta_info`` (a dict, a list of turns, or their string)."""
    if isinstance(meta, str):
        text = meta.strip()
        if not text:
            return ""
        try:
            meta = json.loads(text)
        except json.JSONDecodeError:
            try:
                meta = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return ""
    if isinstance(meta, dict):
        for key in TEXT_KEYS:
            if isinstance(meta.get(key), str) and meta[key].strip():
                return meta[key].strip()
        return ""
    if isinstance(meta, list):
        return " ".join(t for t in (transcript(x) for x in meta) if t)
    return ""


def prepare(root, out, tasks: Sequence[str] = SPEECH_TASKS) -> dict:
    root = Path(root).absolute()
    check_layout("AIR-Bench", root, [("Chat/Chat_meta.json", "the chat items")], HINT)
    meta = root / "Chat" / "Chat_meta.json"
    d = DataDir(out, "AIR-Bench chat (speech)")
    try:
        items = list(iter_json_items(meta, None))
    except ValueError as e:
        raise LayoutError(f"AIR-Bench: {e}") from None
    for n, (line, item) in enumerate(items):
        byte = bad_text(item)
        if byte:
            print(f"warning: {meta}:{line}: item {n} is not valid UTF-8 ({byte}), skipped",
                  file=sys.stderr)  # fmt: skip
            d.skip(f"{meta}:{line}", f"item {n} is not valid UTF-8 ({byte})")
            continue
        if not isinstance(item, dict):
            d.skip(f"item {n}", f"not an object: {str(item)[:60]!r}")
            continue
        if item.get("task_name") not in tasks:
            continue
        dataset = str(item.get("dataset_name") or "unknown")
        spk = dataset.replace(" ", "_")
        uniq = item.get("uniq_id", n)
        try:
            utt = f"{spk}-{int(uniq):05d}"
        except (TypeError, ValueError):
            d.skip(f"{spk} item {n}", f"uniq_id {uniq!r} is not a number")
            continue
        audio = root / "Chat" / f"{item['task_name']}_{dataset}" / str(item.get("path") or "")
        if not audio.is_file():
            d.skip(utt, f"{audio} is missing (item {n})")
            continue
        text = transcript(item.get("meta_info"))
        if not text:
            d.skip(utt, f"no transcription in meta_info (item {n})")
            continue
        question, answer = str(item.get("question") or ""), str(item.get("answer_gt") or "")
        if not answer.strip():
            d.skip(utt, f"no answer_gt (item {n})")
            continue
        d.add(utt, str(audio), spk, text=text, task="STTC", answer=answer, question=question)
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the dir holding Chat/Chat_meta.json")
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--tasks", nargs="+", default=list(SPEECH_TASKS), help="task_name values")
    run_preparer(
        "airbench", parser, lambda a: prepare(a.root, a.out, a.tasks), argv,
        extra_errors=(json.JSONDecodeError,),
    )  # fmt: skip


if __name__ == "__main__":
    main()
