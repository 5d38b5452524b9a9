"""Scoring a decode dir (osum_inference output) against its data dir, task by task.

Per task: the transcript error rate (WER for English, CER for Chinese: see
:mod:`osum.scoring.metrics`) for every task with a transcript; SRWT adds AAS (ms); label tasks get
accuracy, macro-F1, per-class recall and a confusion matrix (text and PNG); STTC adds
answer accuracy and chrF against ``utt2answer`` (and, when configured, an LLM judge).
An utterance the decode dir lacks is scored as an empty hypothesis and counted under
``missing``; a hypothesis that did not parse is scored as what could be read (an
unreadable label is wrong).
"""

import json
import logging
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List

from osum.asrx import srwt
from osum.asrx.registry import Task, build_registry
from osum.asrx.text_norm import normalize
from osum.data.kaldi import read_table
from osum.data.task_files import load_task_info
from osum.decode.data_dir import read_done
from osum.scoring.metrics import (
    average_absolute_shift,
    chrf,
    classification,
    confusion_png,
    confusion_text,
    error_rate,
    sclite_binary,
    sclite_error_rate,
)

logger = logging.getLogger(__name__)


def strip_punctuation(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII), then every Unicode punctuation
    character becomes a space."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)


def text_normalizer(name: str) -> Callable[[str], str]:
    """``osum`` (the training normaliser), ``osum_nopunct`` (the same after NFKC and
    without punctuation, as error rates are usually reported) or ``whisper_en``
    (openai-whisper's English normaliser, then osum's)."""
    if name == "osum":
        return normalize
    if name == "osum_nopunct":
        return lambda s: normalize(strip_punctuation(s))
    if name == "whisper_en":
        from whisper.normalizers import EnglishTextNormalizer

        english = EnglishTextNormalizer()
        return lambda s: normalize(english(s))
    raise ValueError(f"unknown normalizer {name!r}; known: osum, osum_nopunct, whisper_en")


def corpus_of(data_dir: Path) -> dict:
    """{"corpus": what the set was prepared from} (its data dir's ``corpus`` file, which
    the corpus preparers write and the dump copies), or {} when it does not say."""
    path = Path(data_dir) / "corpus"
    text = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    return {"corpus": text} if text else {}


def score(
    decode_dir: str,
    data_dir: str,
    registry: Dict[str, Task] | None = None,
    normalizer: str = "osum",
    judge: Callable[[List[str], List[str], List[str], List[str]], dict] | None = None,
    out_dir: str | None = None,
) -> dict:
    decode_dir, data_dir = Path(decode_dir), Path(data_dir)
    out = Path(out_dir) if out_dir else decode_dir / "scores"
    out.mkdir(parents=True, exist_ok=True)
    registry = registry or build_registry()
    norm = text_normalizer(normalizer)
    hyps = read_done(decode_dir)
    info = load_task_info(data_dir)
    texts = (
        {k: v for k, (v, _) in read_table(data_dir / "text").items()}
        if (data_dir / "text").is_file()
        else {}
    )
    by_task: Dict[str, List[str]] = defaultdict(list)
    for utt in sorted(info):
        by_task[info[utt]["task"]].append(utt)
    summary = {
        "decode_dir": str(decode_dir),
        "data_dir": str(data_dir),
        **corpus_of(data_dir),
        "normalizer": normalizer,
        "tasks": {},
    }
    for name, utts in sorted(by_task.items()):
        task = registry[name]
        missing = [u for u in utts if u not in hyps]
        rows = {
            u: hyps.get(
                u, dict(transcript="", labels={}, alignment=[], answer="", flags=["missing"])
            )
            for u in utts
        }
        res = {
            "utterances": len(utts),
            "missing": len(missing),
            "unparsed": sum(bool(rows[u]["flags"]) for u in utts),
        }
        # label tasks: clips without speech (an empty reference transcript) are left out
        # of the error rate; for ASR, SRWT and STTC every utterance counts
        spoken = [u for u in utts if norm(texts.get(u, ""))] if task.fields else list(utts)
        said = any(norm(texts.get(u, "")) for u in spoken)
        if (task.transcript or task.timestamps or task.chat) and said:
            if len(spoken) < len(utts):
                res["without_transcript"] = len(utts) - len(spoken)
            utts_er = spoken
            refs = [norm(texts.get(u, "")) for u in utts_er]
            got = [norm(rows[u]["transcript"]) for u in utts_er]
            er = error_rate(utts_er, refs, got)
            res.update(
                error_rate=round(er.rate, 2),
                unit=er.unit,
                errors=er.errors,
                ref_units=er.ref_units,
                sub=er.substitutions,
                dele=er.deletions,
                ins=er.insertions,
            )
            _write_alignments(out / f"{name}.align.txt", er)
            if sclite_binary():
                errors, n = sclite_error_rate(utts_er, refs, got, out / f"sclite_{name}")
                res["sclite_error_rate"] = round(100.0 * errors / max(n, 1), 2)
        if task.timestamps:
            ref_ali = [srwt.split_to_units(info[u].get("alignment", [])) for u in utts]
            hyp_ali = [[tuple(x) for x in rows[u]["alignment"]] for u in utts]
            aas, matched = average_absolute_shift(ref_ali, hyp_ali)
            res.update(aas_ms=round(aas, 1) if matched else None, aas_matched_units=matched)
        for f in task.fields:
            c = classification(
                [normalize(info[u][f]) for u in utts],
                [rows[u]["labels"].get(f) for u in utts],
                task.label_sets[f],
            )
            res[f] = dict(
                accuracy=round(c.accuracy, 2),
                macro_f1=round(c.macro_f1, 2),
                recall={k: round(v, 2) for k, v in c.recall.items()},
            )
            (out / f"{name}.{f}.confusion.txt").write_text(confusion_text(c), encoding="utf-8")
            confusion_png(c, out / f"{name}.{f}.confusion.png", f"{name} {f} ({data_dir.name})")
        if task.chat:
            ref_ans = [normalize(info[u].get("answer", "")) for u in utts]
            hyp_ans = [normalize(rows[u]["answer"] or "") for u in utts]
            res["answer_accuracy"] = round(
                100.0 * sum(r == h for r, h in zip(ref_ans, hyp_ans)) / len(utts), 2
            )
            res["answer_chrf"] = round(chrf(ref_ans, hyp_ans), 2)
            if judge is not None:
                # the question is the utterance's text question where it has one (AIR-Bench:
                # a question about the clip, whose transcript is then its context), else
                # the spoken question itself
                asked = [info[u].get("question") or "" for u in utts]
                verdict = judge(
                    [q or texts.get(u, "") for q, u in zip(asked, utts)],
                    [info[u].get("answer", "") for u in utts],
                    [rows[u]["answer"] or "" for u in utts],
                    [texts.get(u, "") if q else "" for q, u in zip(asked, utts)],
                )
                mean = verdict["mean"]
                res["judge_score"] = None if mean is None else round(mean, 2)
                res["judge_rated"], res["judge_failed"] = verdict["rated"], verdict["failed"]
        summary["tasks"][name] = res
    (out / "result.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    return summary


def _write_alignments(path: Path, er) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            f"# {er.unit} error rate {er.rate:.2f} % ({er.errors} / {er.ref_units}: "
            f"{er.substitutions} sub, {er.deletions} del, {er.insertions} ins)\n"
        )
        for utt, errors, n, ali in er.per_utt:
            f.write(f"{utt} {errors}/{n} {ali}\n")


def openai_judge(base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0):
    """An LLM judge through any OpenAI-compatible ``/chat/completions`` endpoint: rates each
    reply 1-10 against the question (after the transcript of the audio it is about, where
    given) and the reference answer. Returns the mean over the rated replies and how many
    requests failed or gave no rating (left out, counted). The texts are the references
    and replies as written, not normalised."""
    import re

    import requests

    def judge(
        questions: List[str],
        refs: List[str],
        hyps: List[str],
        contexts: List[str] | None = None,
    ) -> dict:
        scores, failures = [], 0
        for q, r, h, c in zip(questions, refs, hyps, contexts or [""] * len(questions)):
            audio = f"The audio says: {c}\n" if c else ""
            prompt = (
                "Rate the reply to the question with one integer from 1 (useless) to 10 "
                "(perfect), using the reference answer as a guide. Answer with the number "
                f"only.\n{audio}Question: {q}\nReference answer: {r}\nReply: {h}"
            )
            try:
                resp = requests.post(
                    f"{base_url.rstrip('/')}/chat/completions",
                    headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                    json={
                        "model": model,
                        "messages": [{"role": "user", "content": prompt}],
                        "temperature": 0,
                    },
                    timeout=timeout,
                )
                resp.raise_for_status()
                text = resp.json()["choices"][0]["message"]["content"].strip()
            except (requests.RequestException, KeyError, IndexError, ValueError) as e:
                logger.warning(f"judge request failed: {e}")
                failures += 1
                continue
            m = re.fullmatch(r"\D*?(10|[1-9])(\.\d+)?\D*", text)
            if m is None:
                logger.warning(f"judge reply is not a 1-10 rating: {text[:80]!r}")
                failures += 1
                continue
            scores.append(float(m.group(1)))
        mean = sum(scores) / len(scores) if scores else None
        return {"mean": mean, "rated": len(scores), "failed": failures}

    return judge
