"""Scoring a decode dir (osum_inference output) against its data dir, task by task.

Per task: the transcript error rate (WER for English, CER for Chinese: see
:mod:`osum.scoring.metrics`) for every task with a transcript; SRWT adds AAS (ms); label tasks get
accuracy, macro-F1, per-class recall and a confusion matrix (text and PNG); STTC adds
answer accuracy and chrF against ``utt2answer`` (and, when configured, an LLM judge).
An utterance the decode dir lacks is scored as an empty hypothesis (all its words
deleted, its labels and answer wrong) and counted under ``missing``, with a warning that
names how many and a few; a hypothesis that did not parse is scored as what could be read
(an unreadable label is wrong). A decode of another task than the data dir gives an
utterance, or one that has none of its utterances, is an error (:class:`DataError`).
"""

import json
import logging
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

from osum.asrx import srwt
from osum.asrx.registry import Task, build_registry
from osum.asrx.text_norm import normalize
from osum.data.kaldi import DataError, read_table
from osum.data.task_files import load_task_info
from osum.decode.data_dir import read_done
from osum.files import atomic_open, write_text
from osum.scoring.metrics import (
    ErrorRate,
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
    """Score ``decode_dir`` against ``data_dir`` task by task (module doc).

    Writes ``result.json`` (the returned summary), the error rates' alignments and the
    label tasks' confusion matrices to ``out_dir`` (default ``<decode_dir>/scores``).
    ``normalizer``: see :func:`text_normalizer`; ``judge``: rates the STTC replies
    (:func:`openai_judge`)."""
    decode_dir, data_dir = Path(decode_dir), Path(data_dir)
    out = Path(out_dir) if out_dir else decode_dir / "scores"
    out.mkdir(parents=True, exist_ok=True)
    registry = registry or build_registry()
    norm = text_normalizer(normalizer)
    hyps = read_done(decode_dir)
    info = load_task_info(data_dir)
    _check_decode(decode_dir, data_dir, info, hyps)
    transcripts = _reference_transcripts(data_dir)
    summary = {
        "decode_dir": str(decode_dir),
        "data_dir": str(data_dir),
        **corpus_of(data_dir),
        "normalizer": normalizer,
        "tasks": {},
    }
    for name, utts in sorted(_utterances_by_task(info).items()):
        scoring = _TaskScoring(
            name=name,
            task=registry[name],
            utts=utts,
            decoded={u: hyps.get(u, _missing_hypothesis()) for u in utts},
            missing=sum(u not in hyps for u in utts),
            info=info,
            transcripts=transcripts,
            norm=norm,
            out=out,
            data_name=data_dir.name,
        )
        summary["tasks"][name] = _score_task(scoring, judge)
    write_text(out / "result.json", json.dumps(summary, indent=1, ensure_ascii=False))
    return summary


def _few(utts: List[str], n: int = 5) -> str:
    """The first ``n`` of ``utts``, and how many more."""
    more = f" and {len(utts) - n} more" if len(utts) > n else ""
    return ", ".join(utts[:n]) + more


def _check_decode(
    decode_dir: Path, data_dir: Path, info: Dict[str, dict], hyps: Dict[str, dict]
) -> None:
    """Warn about the data dir's utterances the decode lacks (scored as empty hypotheses)
    and the decoded ones the data dir lacks (left out); raise :class:`DataError` when none
    of the data dir's utterances was decoded, or one was decoded as another task than the
    data dir gives it (the wrong data dir, or a decode with ``--task``)."""
    found = [u for u in info if u in hyps]
    if not found:
        raise DataError(
            f"none of the {len(info)} utterances of {data_dir} is in {decode_dir} "
            f"({len(hyps)} decoded): is it the decode of another set?"
        )
    missing = sorted(u for u in info if u not in hyps)
    if missing:
        logger.warning(
            f"{decode_dir}: {len(missing)} of the {len(info)} utterances of {data_dir} were "
            f"not decoded ({_few(missing)}); each is scored as an empty hypothesis (every "
            "word deleted, labels and answer wrong) and counted as missing"
        )
    unknown = sorted(u for u in hyps if u not in info)
    if unknown:
        logger.warning(
            f"{decode_dir}: {len(unknown)} decoded utterances are not in {data_dir} "
            f"({_few(unknown)}); they are left out"
        )
    where = data_dir / "utt2task"
    source = str(where) if where.is_file() else f"{data_dir}, which has no utt2task"
    other = [
        f"{u} decoded as {hyps[u]['task']}, {info[u]['task']} in {source}"
        for u in sorted(found)
        if hyps[u].get("task") not in (None, info[u]["task"])
    ]
    if other:
        raise DataError(
            f"{decode_dir}: {len(other)} utterances were decoded as another task than "
            f"{data_dir} gives them ({'; '.join(other[:5])}{'; ...' if len(other) > 5 else ''})"
            ": score the decode against the data dir it was decoded from, or decode again "
            "with that data dir's tasks (its utt2taskinfo, without --task)"
        )


@dataclass
class _TaskScoring:
    """The utterances of one task with their references and hypotheses, as its scorers
    read them."""

    name: str
    task: Task
    utts: List[str]
    decoded: Dict[str, dict]  # utt -> decoded row (:func:`_missing_hypothesis` if none)
    missing: int  # how many of the utterances the decode dir lacks
    info: Dict[str, dict]  # utt -> task info (labels, alignment, answer, question)
    transcripts: Dict[str, str]  # utt -> reference transcript
    norm: Callable[[str], str]
    out: Path  # where the alignments and confusion matrices go
    data_name: str  # the data dir's name, for the confusion plots' titles

    def reference(self, utt: str) -> str:
        """The normalised reference transcript of ``utt`` ("" when it has none)."""
        return self.norm(self.transcripts.get(utt, ""))


def _reference_transcripts(data_dir: Path) -> Dict[str, str]:
    """utt -> transcript of the data dir's ``text`` ({} without one)."""
    if not (data_dir / "text").is_file():
        return {}
    return {utt: text for utt, (text, _) in read_table(data_dir / "text").items()}


def _utterances_by_task(info: Dict[str, dict]) -> Dict[str, List[str]]:
    """task name -> its utterances, sorted."""
    by_task: Dict[str, List[str]] = defaultdict(list)
    for utt in sorted(info):
        by_task[info[utt]["task"]].append(utt)
    return by_task


def _missing_hypothesis() -> dict:
    """The decoded row an utterance missing from the decode dir is scored as."""
    return dict(transcript="", labels={}, alignment=[], answer="", flags=["missing"])


def _score_task(scoring: _TaskScoring, judge) -> dict:
    """One task's scores: the counts, then each metric the task calls for."""
    task, utts = scoring.task, scoring.utts
    scores = {
        "utterances": len(utts),
        "missing": scoring.missing,
        "unparsed": sum(bool(scoring.decoded[u]["flags"]) for u in utts),
    }
    scores.update(_transcript_scores(scoring))
    if task.timestamps:
        scores.update(_timing_scores(scoring))
    for field in task.fields:
        scores[field] = _label_scores(scoring, field)
    if task.chat:
        scores.update(_answer_scores(scoring, judge))
    return scores


def _transcript_scores(scoring: _TaskScoring) -> dict:
    """The transcript error rate (and sclite's, when installed) of a task that transcribes
    (ASR, SRWT, STTC and the label tasks that transcribe), writing its alignments; {} for
    a task without transcripts or whose references are all empty.

    A label task's clips without speech (an empty reference) are left out of the error
    rate; for ASR, SRWT and STTC every utterance counts."""
    task, utts = scoring.task, scoring.utts
    spoken = [u for u in utts if scoring.reference(u)] if task.fields else list(utts)
    said = any(scoring.reference(u) for u in spoken)
    if not ((task.transcript or task.timestamps or task.chat) and said):
        return {}
    scores = {}
    if len(spoken) < len(utts):
        scores["without_transcript"] = len(utts) - len(spoken)
    refs = [scoring.reference(u) for u in spoken]
    hyps = [scoring.norm(scoring.decoded[u]["transcript"]) for u in spoken]
    rate = error_rate(spoken, refs, hyps)
    scores.update(
        error_rate=round(rate.rate, 2),
        unit=rate.unit,
        errors=rate.errors,
        ref_units=rate.ref_units,
        sub=rate.substitutions,
        dele=rate.deletions,
        ins=rate.insertions,
    )
    _write_alignments(scoring.out / f"{scoring.name}.align.txt", rate)
    if sclite_binary():
        errors, n = sclite_error_rate(spoken, refs, hyps, scoring.out / f"sclite_{scoring.name}")
        scores["sclite_error_rate"] = round(100.0 * errors / max(n, 1), 2)
    return scores


def _timing_scores(scoring: _TaskScoring) -> dict:
    """SRWT: the average absolute shift (ms) of the word times, and how many units it
    matched (``aas_ms`` None when none)."""
    utts = scoring.utts
    ref_alignments = [srwt.split_to_units(scoring.info[u].get("alignment", [])) for u in utts]
    hyp_alignments = [[tuple(x) for x in scoring.decoded[u]["alignment"]] for u in utts]
    aas, matched = average_absolute_shift(ref_alignments, hyp_alignments)
    return dict(aas_ms=round(aas, 1) if matched else None, aas_matched_units=matched)


def _label_scores(scoring: _TaskScoring, field: str) -> dict:
    """Accuracy, macro-F1 and per-class recall of one label ``field``, writing its confusion
    matrix (text and PNG)."""
    name, utts = scoring.name, scoring.utts
    result = classification(
        [normalize(scoring.info[u][field]) for u in utts],
        [scoring.decoded[u]["labels"].get(field) for u in utts],
        scoring.task.label_sets[field],
    )
    write_text(scoring.out / f"{name}.{field}.confusion.txt", confusion_text(result))
    confusion_png(
        result,
        scoring.out / f"{name}.{field}.confusion.png",
        f"{name} {field} ({scoring.data_name})",
    )
    return dict(
        accuracy=round(result.accuracy, 2),
        macro_f1=round(result.macro_f1, 2),
        recall={k: round(v, 2) for k, v in result.recall.items()},
    )


def _answer_scores(scoring: _TaskScoring, judge) -> dict:
    """STTC: exact-match accuracy and chrF of the replies against ``utt2answer``, and the
    judge's mean rating when there is a judge."""
    utts = scoring.utts
    ref_answers = [normalize(scoring.info[u].get("answer", "")) for u in utts]
    hyp_answers = [normalize(scoring.decoded[u]["answer"] or "") for u in utts]
    exact = sum(r == h for r, h in zip(ref_answers, hyp_answers))
    scores = {
        "answer_accuracy": round(100.0 * exact / len(utts), 2),
        "answer_chrf": round(chrf(ref_answers, hyp_answers), 2),
    }
    if judge is not None:
        scores.update(_judge_scores(scoring, judge))
    return scores


def _judge_scores(scoring: _TaskScoring, judge) -> dict:
    """The judge's mean rating of the replies, and how many it rated and failed to.

    The question is the utterance's text question where it has one (AIR-Bench: a question
    about the clip, whose transcript is then its context), else the spoken question."""
    utts, info, transcripts = scoring.utts, scoring.info, scoring.transcripts
    asked = [info[u].get("question") or "" for u in utts]
    verdict = judge(
        [q or transcripts.get(u, "") for q, u in zip(asked, utts)],
        [info[u].get("answer", "") for u in utts],
        [scoring.decoded[u]["answer"] or "" for u in utts],
        [transcripts.get(u, "") if q else "" for q, u in zip(asked, utts)],
    )
    mean = verdict["mean"]
    return {
        "judge_score": None if mean is None else round(mean, 2),
        "judge_rated": verdict["rated"],
        "judge_failed": verdict["failed"],
    }


def _write_alignments(path: Path, rate: ErrorRate) -> None:
    """The error rate's summary line, then each utterance's errors and alignment."""
    with atomic_open(path) as f:
        f.write(
            f"# {rate.unit} error rate {rate.rate:.2f} % ({rate.errors} / {rate.ref_units}: "
            f"{rate.substitutions} sub, {rate.deletions} del, {rate.insertions} ins)\n"
        )
        for utt, errors, n, alignment in rate.per_utt:
            f.write(f"{utt} {errors}/{n} {alignment}\n")


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
