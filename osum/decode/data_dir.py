"""Decoding a data dir into Kaldi-style result files, resumable.

Each decoded utterance is appended to ``<output_dir>/results.jsonl`` at once, so an
interrupted run started again decodes only what is missing; the decoding options are kept
in ``decode_options.json`` and a run with other options is refused. An output dir
belongs to one job: parallel jobs (``--key_file`` splits) write to dirs of their own.
An utterance whose audio cannot be decoded (missing, unreadable, shorter than the
frontend's shortest input, not finite) is skipped, as the dump skips it, and listed with
the reason in ``<output_dir>/skipped``; the others go on. At the end the results of the
run's utterances are written as sorted Kaldi-style files (each whole, or not at all):

    text          <utt> <transcript>            raw      <utt> <raw model output>
    task          <utt> <task>                  flags    <utt> <parse flags, or ->
    utt2<field>   <utt> <label>   (emotion, event, style, gender, age)
    ctm           <utt> <start> <dur> <word>    (SRWT)
    utt2answer    <utt> <reply>                 (STTC)
"""

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Sequence, Tuple

import numpy as np
from espnet2.fileio.read_text import read_2columns_text
from espnet2.fileio.sound_scp import SoundScpReader

from osum.files import write_text
from osum.progress import progress

if TYPE_CHECKING:  # osum.bin.merge_decodes reads results without loading a model's code
    from osum.decode.speech2text import Result, Speech2Text

logger = logging.getLogger(__name__)

RESULTS = "results.jsonl"
SKIPPED = "skipped"  # <utt> <why it was not decoded>


def _task_of(value: str) -> str:
    value = value.strip()
    return json.loads(value)["task"] if value.startswith("{") else value


def _question_of(value: str) -> str | None:
    value = value.strip()
    return json.loads(value).get("question") if value.startswith("{") else None


def read_done(output_dir: Path) -> Dict[str, dict]:
    """Results already written. A line cut short by a killed run is dropped from the file,
    so that the next result starts on a line of its own."""
    done = {}
    path = output_dir / RESULTS
    if not path.is_file():
        return done
    text = path.read_text(encoding="utf-8")
    broken = bool(text) and not text.endswith("\n")
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            broken = True
            continue
        done[row["utt"]] = row
    if broken:
        logger.warning(f"{path}: dropping an incomplete line left by an interrupted run")
        write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()))
    return done


def read_skipped(output_dir: Path) -> Dict[str, str]:
    """The utterances a run skipped, with the reason (``<output_dir>/skipped``)."""
    path = output_dir / SKIPPED
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict((line.split(maxsplit=1) + [""])[:2] for line in lines if line.strip())


def write_skipped(output_dir: Path, skipped: Dict[str, str]) -> None:
    write_text(output_dir / SKIPPED, "".join(f"{u} {skipped[u]}\n" for u in sorted(skipped)))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def to_row(utt: str, result: "Result") -> dict:
    p = result.parsed
    return dict(
        utt=utt,
        task=result.task,
        raw=result.text,
        transcript=p.transcript,
        labels=p.labels,
        alignment=[[round(s, 3), round(e, 3), w] for s, e, w in p.alignment],
        answer=p.answer,
        flags=p.flags,
        score=round(result.score, 4),
    )


def decode_data(
    s2t: "Speech2Text",
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    output_dir: str,
    key_file: str | None = None,
    task: str | None = None,
    group: int = 64,
) -> Path:
    """Decode the utterances of ``key_file`` (default: all of the speech scp); those
    whose audio cannot be decoded are listed in ``<output_dir>/skipped``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    speech, tasks, questions = _read_inputs(data_path_and_name_and_type)
    keys = list(read_2columns_text(key_file)) if key_file else list(speech.keys())
    _check_options(output_dir, _decoding_setup(s2t, task))
    done = read_done(output_dir)
    todo = [k for k in keys if k not in done]
    if len(todo) < len(keys):
        logger.info(f"{len(keys) - len(todo)} of {len(keys)} utterances already decoded")
    skipped: Dict[str, str] = {}
    with (
        # not atomic: a line per utterance, appended; a torn last line is dropped on resume
        open(output_dir / RESULTS, "a", encoding="utf-8") as out,
        progress(len(todo), f"decoding {output_dir.name}") as bar,
    ):
        for start in range(0, len(todo), group):
            batch = todo[start : start + group]
            names = [task or tasks.get(k, "ASR") for k in batch]
            asked = [questions.get(k) for k in batch]
            for row in _decode_group(s2t, speech, batch, names, asked, skipped):
                done[row["utt"]] = row
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            bar.update(len(batch))
    write_skipped(output_dir, skipped)
    if skipped:
        logger.warning(
            f"{len(skipped)} of {len(keys)} utterances skipped, listed with the reason in "
            f"{output_dir / SKIPPED}"
        )
    write_kaldi_files(output_dir, [done[k] for k in keys if k in done])
    return output_dir


def _read_inputs(
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
) -> Tuple[SoundScpReader, Dict[str, str], Dict[str, str | None]]:
    """The speech (name ``speech``, type ``sound``) and, from the task data (name ``task``:
    ``utt2task`` or ``utt2taskinfo``), each utterance's task and question."""
    speech, tasks, questions = None, {}, {}
    for path, name, kind in data_path_and_name_and_type:
        if name == "speech":
            if kind != "sound":
                raise ValueError(f"{path}: decoding reads audio (type 'sound'), not {kind!r}")
            speech = SoundScpReader(path, dtype="float32")
        elif name == "task":
            infos = read_2columns_text(path)
            tasks = {k: _task_of(v) for k, v in infos.items()}
            questions = {k: _question_of(v) for k, v in infos.items()}
    if speech is None:
        raise ValueError(
            "no speech data given (--data_path_and_name_and_type wav.scp,speech,sound)"
        )
    return speech, tasks, questions


def _decoding_setup(s2t: "Speech2Text", task: str | None) -> dict:
    """What an output dir's results depend on (``decode_options.json``)."""
    return dict(
        train_config=str(s2t.train_config),
        model_file=str(s2t.model_file),
        task=task,
        search=vars(s2t.options),
        prompt_languages=s2t.pre.prompt_languages,
        chunk_samples=s2t.chunk_samples,
    )


def _decode_group(
    s2t: "Speech2Text",
    speech: SoundScpReader,
    utts: List[str],
    tasks: List[str],
    questions: List[str | None],
    skipped: Dict[str, str],
) -> List[dict]:
    """The result rows (:func:`to_row`) of ``utts``, decoded together; an utterance
    whose audio cannot be decoded goes into ``skipped`` with the reason."""
    kept, waves = [], []
    for i, utt in enumerate(utts):
        wave, reason = _usable_audio(s2t, speech, utt)
        if reason is not None:
            logger.warning(f"{utt}: skipped: {reason}")
            skipped[utt] = reason
            continue
        kept.append(i)
        waves.append(wave)
    if not kept:
        return []
    results = s2t.decode_batch(waves, [tasks[i] for i in kept], [questions[i] for i in kept])
    return [to_row(utts[i], result) for i, result in zip(kept, results)]


def _usable_audio(s2t: "Speech2Text", speech: SoundScpReader, utt: str):
    """(the prepared waveform, None), or (None, why the utterance is skipped): not in the
    scp, its audio missing or unreadable, too short, or not finite."""
    try:
        rate, wave = speech[utt]
    except KeyError:
        return None, "not in the speech scp"
    except (OSError, RuntimeError, ValueError) as e:  # soundfile's LibsndfileError too
        return None, f"cannot read its audio: {' '.join(str(e).split())}"
    try:
        wave = s2t.prepare(wave, rate, utt)
    except ValueError as e:
        return None, str(e).removeprefix(f"utterance {utt}: ")
    if not bool(np.isfinite(wave.numpy()).all()):
        return None, "NaN or inf samples"
    return wave, None


def _check_options(output_dir: Path, options: dict) -> None:
    """An output dir holds one decoding setup: resuming with other options is refused."""
    path = output_dir / "decode_options.json"
    options = json.loads(json.dumps(options))
    if path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before != options:
            changed = sorted(
                k for k in set(before) | set(options) if before.get(k) != options.get(k)
            )
            raise ValueError(
                f"{output_dir} was decoded with other options ({', '.join(changed)} "
                f"differ, see {path}); use another --output_dir"
            )
    else:
        write_text(path, json.dumps(options, indent=1))


def write_kaldi_files(output_dir: Path, rows: List[dict]) -> None:
    rows = sorted(rows, key=lambda r: r["utt"])
    files: Dict[str, List[str]] = {"text": [], "raw": [], "task": [], "flags": []}
    for r in rows:
        u = r["utt"]
        files["text"].append(f"{u} {r['transcript']}")
        files["raw"].append(f"{u} {r['raw']}")
        files["task"].append(f"{u} {r['task']}")
        files["flags"].append(f"{u} {','.join(r['flags']) or '-'}")
        for f, v in r["labels"].items():
            files.setdefault(f"utt2{f}", []).append(f"{u} {v if v is not None else '-'}")
        for s, e, w in r["alignment"]:
            files.setdefault("ctm", []).append(f"{u} {s:.2f} {e - s:.2f} {w}")
        if r["answer"] is not None:
            files.setdefault("utt2answer", []).append(f"{u} {r['answer']}")
    for name, lines in files.items():
        write_text(output_dir / name, "".join(line.rstrip() + "\n" for line in lines))
