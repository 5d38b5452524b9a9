"""Metrics: error rates, word-time shift, classification scores, chat answers.

Error rates are computed on scoring units (:func:`osum.asrx.text_norm.units`: English words
and single Chinese characters, after the shared normaliser), so one number serves
English (WER), Chinese (CER) and mixed text; ``unit`` says which it is for a test set.
jiwer does the alignment; ``sclite_error_rate`` runs sctk's sclite on the same units.
"""

import math
import re
import shutil
import subprocess
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import jiwer

from osum.asrx.text_norm import is_cjk, units
from osum.files import atomic_open, atomic_path, write_text

NONE_LABEL = "<none>"  # a prediction that could not be read


@dataclass
class ErrorRate:
    errors: int
    ref_units: int
    substitutions: int
    deletions: int
    insertions: int
    unit: str  # "word", "char" or "mixed"
    per_utt: List[Tuple[str, int, int, str]] = field(default_factory=list)  # utt, err, n, alignment

    @property
    def rate(self) -> float:
        return 100.0 * self.errors / max(self.ref_units, 1)


def unit_kind(refs: Sequence[str]) -> str:
    tokens = [t for r in refs for t in units(r)]
    cjk = sum(all(is_cjk(c) for c in t) for t in tokens)
    if not tokens or cjk == 0:
        return "word"
    return "char" if cjk == len(tokens) else "mixed"


def error_rate(utts: Sequence[str], refs: Sequence[str], hyps: Sequence[str]) -> ErrorRate:
    """WER / CER over scoring units; per-utterance alignments for the report."""
    total = Counter()
    per_utt = []
    for utt, ref, hyp in zip(utts, refs, hyps):
        r, h = units(ref), units(hyp)
        if not r:
            n_err = len(h)
            total.update(insertions=n_err)
            per_utt.append((utt, n_err, 0, " ".join(f"I:{x}" for x in h)))
            continue
        out = jiwer.process_words(" ".join(r), " ".join(h) if h else "")
        s, d, i = out.substitutions, out.deletions, out.insertions
        total.update(substitutions=s, deletions=d, insertions=i, ref=len(r))
        per_utt.append((utt, s + d + i, len(r), _alignment_text(out, r, h)))
    errors = total["substitutions"] + total["deletions"] + total["insertions"]
    return ErrorRate(
        errors,
        total["ref"],
        total["substitutions"],
        total["deletions"],
        total["insertions"],
        unit_kind(refs),
        per_utt,
    )


def _alignment_text(out, r: List[str], h: List[str]) -> str:
    parts = []
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            parts += r[chunk.ref_start_idx : chunk.ref_end_idx]
        elif chunk.type == "substitute":
            parts += [
                f"S:{a}>{b}"
                for a, b in zip(
                    r[chunk.ref_start_idx : chunk.ref_end_idx],
                    h[chunk.hyp_start_idx : chunk.hyp_end_idx],
                )
            ]
        elif chunk.type == "delete":
            parts += [f"D:{a}" for a in r[chunk.ref_start_idx : chunk.ref_end_idx]]
        else:
            parts += [f"I:{b}" for b in h[chunk.hyp_start_idx : chunk.hyp_end_idx]]
    return " ".join(parts)


def write_trn(path: Path, utts: Sequence[str], texts: Sequence[str]) -> None:
    with atomic_open(path) as f:
        for utt, text in zip(utts, texts):
            f.write(f"{' '.join(units(text))} ({utt})\n")


def sclite_binary() -> str | None:
    return shutil.which("sclite") or (
        "/usr/lib/sctk/bin/sclite" if Path("/usr/lib/sctk/bin/sclite").is_file() else None
    )


def sclite_error_rate(utts, refs, hyps, report_dir: Path | None = None) -> Tuple[int, int]:
    """(errors, reference units) from sctk's sclite on the same units; writes its reports
    (``sum``, ``dtl``, ``pralign``) to ``report_dir`` when given."""
    binary = sclite_binary()
    if binary is None:
        raise FileNotFoundError("sclite not found (Debian package sctk)")
    with tempfile.TemporaryDirectory() as tmp:
        ref, hyp = Path(tmp) / "ref.trn", Path(tmp) / "hyp.trn"
        write_trn(ref, utts, refs)
        write_trn(hyp, utts, hyps)
        # run where the files are, so that the reports name them alone: the same reports
        # for the same decode, whatever temporary dir held them
        cmd = [binary, "-r", ref.name, "trn", "-h", hyp.name, "trn", "-i", "rm", "-e", "utf-8"]
        dtl = subprocess.run(
            cmd + ["-o", "dtl", "stdout"], capture_output=True, text=True, check=True, cwd=tmp
        ).stdout
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            for kind in ("sum", "pralign"):
                text = subprocess.run(
                    cmd + ["-o", kind, "stdout"],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=tmp,
                ).stdout
                write_text(report_dir / f"sclite.{kind}", text)
            write_text(report_dir / "sclite.dtl", dtl)
    errors = int(re.search(r"Percent Total Error\s*=\s*[\d.]+%\s*\(\s*(\d+)\)", dtl).group(1))
    ref_units = int(re.search(r"Ref\. words\s*=\s*\(\s*(\d+)\)", dtl).group(1))
    return errors, ref_units


def average_absolute_shift(
    refs: Sequence[List[Tuple[float, float, str]]], hyps: Sequence[List[Tuple[float, float, str]]]
) -> Tuple[float, int]:
    """AAS in ms over the units the edit-distance alignment matches (same word): the
    mean of |start shift| and |end shift| per matched unit. Returns (AAS, matched)."""
    shifts: List[float] = []
    for ref, hyp in zip(refs, hyps):
        if not ref or not hyp:
            continue
        out = jiwer.process_words(" ".join(w for *_, w in ref), " ".join(w for *_, w in hyp))
        for chunk in out.alignments[0]:
            if chunk.type == "equal":
                for k in range(chunk.ref_end_idx - chunk.ref_start_idx):
                    (rs, re_, _), (hs, he, _) = (
                        ref[chunk.ref_start_idx + k],
                        hyp[chunk.hyp_start_idx + k],
                    )
                    shifts.append((abs(rs - hs) + abs(re_ - he)) / 2 * 1000)
    return (sum(shifts) / len(shifts) if shifts else math.nan), len(shifts)


@dataclass
class Classification:
    accuracy: float
    macro_f1: float
    recall: Dict[str, float]
    labels: List[str]  # order of the confusion matrix rows/columns (NONE_LABEL last)
    confusion: List[List[int]]  # [reference][prediction]
    count: int


def classification(
    refs: Sequence[str], preds: Sequence[str | None], label_set: Sequence[str]
) -> Classification:
    """Accuracy, macro-F1 over the reference classes, per-class recall, confusion matrix.
    A missing or unreadable prediction is NONE_LABEL: wrong, never skipped."""
    preds = [p if p else NONE_LABEL for p in preds]
    labels = (
        list(label_set) + sorted({*refs, *preds} - set(label_set) - {NONE_LABEL}) + [NONE_LABEL]
    )
    index = {lab: i for i, lab in enumerate(labels)}
    conf = [[0] * len(labels) for _ in labels]
    for r, p in zip(refs, preds):
        conf[index[r]][index[p]] += 1
    correct = sum(r == p for r, p in zip(refs, preds))
    recall, f1s = {}, []
    for lab in sorted(set(refs), key=lambda x: index[x]):
        i = index[lab]
        tp = conf[i][i]
        support = sum(conf[i])
        predicted = sum(row[i] for row in conf)
        rec = tp / support
        prec = tp / predicted if predicted else 0.0
        recall[lab] = rec
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return Classification(
        accuracy=100.0 * correct / max(len(refs), 1),
        macro_f1=100.0 * sum(f1s) / max(len(f1s), 1),
        recall={k: 100.0 * v for k, v in recall.items()},
        labels=labels,
        confusion=conf,
        count=len(refs),
    )


def confusion_text(c: Classification) -> str:
    used = [
        i
        for i, lab in enumerate(c.labels)
        if sum(c.confusion[i]) or sum(row[i] for row in c.confusion)
    ]
    width = max(8, *(len(c.labels[i]) for i in used)) + 1
    lines = ["ref \\ hyp".ljust(width) + "".join(c.labels[i].rjust(width) for i in used)]
    for i in used:
        lines.append(
            c.labels[i].ljust(width) + "".join(str(c.confusion[i][j]).rjust(width) for j in used)
        )
    return "\n".join(lines) + "\n"


def confusion_png(c: Classification, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    used = [
        i
        for i, lab in enumerate(c.labels)
        if sum(c.confusion[i]) or sum(row[i] for row in c.confusion)
    ]
    m = [[c.confusion[i][j] for j in used] for i in used]
    names = [c.labels[i] for i in used]
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(used), 0.8 + 0.6 * len(used)))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("reference")
    ax.set_title(title)
    for i, row in enumerate(m):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    with warnings.catch_warnings():  # labels the font lacks glyphs for still plot as boxes
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
        with atomic_path(path) as tmp:  # the temporary name says nothing of the format
            fig.savefig(tmp, dpi=100, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)


def chrf(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu, character 6-grams, beta 2) on normalised text."""
    import sacrebleu

    return sacrebleu.corpus_chrf(list(hyps), [list(refs)]).score
