"""The task registry: OSUM's eight tasks and the combined ones, in one table.

Each :class:`Task` says what the model is asked (tag, prompts in English and Chinese),
what it must answer (label fields and their label sets), how the target string is
built from an utterance's data (:meth:`Task.build_target`), how a decoded string is
parsed back (:meth:`Task.parse`), and which metric scores it.

ASR+X: every task with a transcript answers the transcript first, then its labels as
tags, e.g. ``i am fine<happy>``; STTC answers ``transcript<开始回答>reply``; SRWT answers
the timed transcript of :mod:`osum.asrx.srwt`. All targets are normalised
(:func:`osum.asrx.text_norm.normalize`), and so are hypotheses before parsing.

Adding a task: one ``Task(...)`` entry in ``TASKS`` (and a label set in ``LABEL_SETS`` if
it has a new field) plus a round-trip test; recipes can replace or extend label sets and
prompts from their config (:func:`build_registry`).
"""

import random
import re
from dataclasses import dataclass, field, replace
from typing import Dict, List, Mapping, Sequence, Tuple

from osum.asrx import srwt
from osum.asrx.text_norm import normalize

ANSWER_MARKER = "<开始回答>"  # STTC: between the transcript and the reply

LABEL_SETS: Dict[str, List[str]] = {
    "emotion": ["sad", "anger", "neutral", "happy", "surprise", "fear", "disgust", "other"],
    "event": ["laugh", "cough", "cry", "screaming", "sigh", "throat clearing", "sneeze", "other"],
    "style": [
        "news/science",
        "horror story",
        "fairy tale",
        "customer service",
        "poetry/prose",
        "audiobook",
        "everyday speech",
        "other",
    ],
    "gender": ["female", "male"],
    "age": ["child", "adult", "old"],
}


@dataclass
class Parsed:
    """A decoded string parsed into fields; ``flags`` lists what could not be read."""

    task: str
    transcript: str = ""
    labels: Dict[str, str | None] = field(default_factory=dict)
    alignment: List[Tuple[float, float, str]] = field(default_factory=list)
    answer: str | None = None
    flags: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.flags


@dataclass(frozen=True)
class Task:
    """One task of the registry.

    Args:
        name: registry key (the value in a data dir's ``utt2task``).
        tag: OSUM's tag, e.g. ``<TRANSCRIBE> <EMOTION>``.
        prompts: language -> prompt wordings (first = the fixed decoding prompt).
        fields: label fields answered as tags after the transcript, in order.
        transcript: whether the answer starts with the transcript. A label task accepts an
            empty one (clips without speech: ESC-50, VocalSound); its answer is then the
            tags alone.
        timestamps: SRWT-style timed transcript.
        time_decimals: digits after the point of SRWT's times in targets (2: 0.01 s; 1:
            OSUM's 0.1 s). Hypotheses parse at any precision.
        chat: STTC-style transcript + marker + reply.
        metric: how the task is scored (wer, wer+aas, accuracy, chat).
    """

    name: str
    tag: str
    prompts: Mapping[str, Sequence[str]]
    fields: Tuple[str, ...] = ()
    transcript: bool = True
    timestamps: bool = False
    time_decimals: int = 2
    chat: bool = False
    metric: str = "accuracy"
    label_sets: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self):
        if not 0 <= self.time_decimals <= 3:  # a recipe's overrides fail here, not in training
            raise ValueError(
                f"task {self.name}: time_decimals takes 0 to 3, not {self.time_decimals}"
            )

    # ---------------------------------------------------------------- prompts
    def prompt(self, language: str = "zh", index: int = 0) -> str:
        """The fixed prompt used for decoding."""
        if language not in self.prompts:
            raise ValueError(
                f"task {self.name} has no {language!r} prompts; has {list(self.prompts)}"
            )
        return self.prompts[language][index]

    def sample_prompt(self, languages: Sequence[str] = ("en", "zh"), rng=random) -> str:
        """A random wording for a training sample."""
        pool = [p for lang in languages for p in self.prompts.get(lang, ())]
        if not pool:
            raise ValueError(f"task {self.name} has no prompts in {list(languages)}")
        return rng.choice(pool)

    # ---------------------------------------------------------------- targets
    def required(self) -> List[str]:
        """Data an utterance of this task must have, besides audio."""
        need = (
            ["text"]
            if self.timestamps or self.chat or (self.transcript and not self.fields)
            else []
        )
        need += list(self.fields)
        if self.timestamps:
            need.append("alignment")
        if self.chat:
            need.append("answer")
        return need

    def check_label(self, field_name: str, label: str) -> None:
        known = self.label_sets[field_name]
        if label not in known:
            raise ValueError(
                f"{field_name} label {label!r} is not one of {list(known)} (task {self.name})"
            )

    def build_target(self, info: Mapping) -> str:
        """info: text (transcript), label fields, alignment [(start, end, word)], answer."""
        missing = [k for k in self.required() if info.get(k) in (None, "", [])]
        if missing:
            raise ValueError(f"task {self.name} needs {missing}")
        if self.timestamps:
            return srwt.format_alignment(info["alignment"], self.time_decimals)
        out = normalize(info.get("text") or "") if self.transcript else ""
        for f in self.fields:
            label = normalize(info[f])
            self.check_label(f, label)
            out += f"<{label}>"
        if self.chat:
            out += ANSWER_MARKER + normalize(info["answer"])
        return out

    # ---------------------------------------------------------------- parsing
    def parse(self, hyp: str) -> Parsed:
        """Decoded string -> fields; never raises. Flags: missing_tag, unknown_label,
        extra_text, missing_answer, and SRWT's (:func:`osum.asrx.srwt.parse`)."""
        s = normalize(hyp)
        out = Parsed(task=self.name)
        if self.timestamps:
            p = srwt.parse(s)
            out.transcript, out.alignment, out.flags = p.transcript, p.alignment, p.flags
            return out
        if self.chat:
            if ANSWER_MARKER in s:
                s, answer = s.split(ANSWER_MARKER, 1)
                out.answer = answer.strip()
            else:
                out.answer = ""
                out.flags.append("missing_answer")
        if not self.fields:
            out.transcript = s.strip() if self.transcript else ""
            if not self.transcript and s.strip():
                out.flags.append("extra_text")
            return out
        tags = list(re.finditer(r"<([^<>]*)>", s))
        # the answer tags are the last len(fields) tags; text after them is extra
        answer_tags = tags[-len(self.fields) :] if tags else []
        first = answer_tags[0].start() if answer_tags else len(s)
        head = s[:first]
        tail = s[answer_tags[-1].end() :] if answer_tags else ""
        if len(answer_tags) < len(self.fields):
            out.flags.append("missing_tag")
        if tail.strip() or (not self.transcript and head.strip()):
            out.flags.append("extra_text")
        out.transcript = normalize(re.sub(r"<[^<>]*>", " ", head)) if self.transcript else ""
        values = [m.group(1).strip() for m in answer_tags]
        values = [None] * (len(self.fields) - len(values)) + values
        for f, v in zip(self.fields, values):
            if v is not None and v not in self.label_sets[f]:
                out.flags.append("unknown_label")
                v = None if v == "" else v
            out.labels[f] = v
        return out


# how the single-label prompts name each field, in English and in Chinese
FIELD_NAMES = {
    "event": ("vocal event", "音频事件"),
    "emotion": ("emotion", "情感"),
    "style": ("speaking style", "风格"),
    "gender": ("speaker gender", "性别"),
    "age": ("speaker age", "年龄"),
}


def _prompts(en: List[str], zh: List[str]) -> Dict[str, List[str]]:
    return {"en": en, "zh": zh}


def _label_prompts(what: str, zh_what: str, labels: Sequence[str]) -> Dict[str, List[str]]:
    joined = ", ".join(labels)
    return _prompts(
        [
            f"Transcribe the audio, then add the {what} at the end as a tag: {joined}.",
            f"Write down what is said and finish with a <{what}> tag, one of: {joined}.",
            f"Recognise the speech and label the {what} ({joined}) after the transcript.",
        ],
        [
            f"请将音频转录为文字，并在末尾标注<{zh_what}>标签，共{len(labels)}种：{joined}。",
            f"请转录音频内容，然后在最后添加<{zh_what}>标签（{joined}）。",
            f"识别语音内容，并在文字末尾用<>标注{zh_what}：{joined}。",
        ],
    )


ASR_PROMPTS = _prompts(
    [
        "Transcribe the speech.",
        "Write down what is said in the audio.",
        "Convert the audio to text.",
    ],
    [
        "执行语音识别任务，将音频转换为文字。",
        "请将这段音频转写为文字。",
        "请识别音频中的语音内容。",
    ],
)

TASKS: Dict[str, Task] = {
    t.name: t
    for t in [
        Task("ASR", "<TRANSCRIBE>", ASR_PROMPTS, metric="wer"),
        Task(
            "SRWT",
            "<TRANSCRIBE> <ALIGN>",
            _prompts(
                [
                    "Transcribe the audio with the start and end time of every word in <>.",
                    "Write down what is said, each word between its start and end times in <>.",
                    "Transcribe with word timestamps in seconds, written as <start>word<end>.",
                ],
                [
                    "请转录音频内容，并为每个英文词汇及其对应的中文翻译标注出精确到0.1秒的起止时间，时间范围用<>括起来。",
                    "请转写音频，并为每个词或汉字标注起止时间，时间用<>括起来。",
                    "识别语音内容，给出每个词的开始和结束时间（秒），写成<开始>词<结束>。",
                ],
            ),
            timestamps=True,
            metric="wer+aas",
        ),
        Task(
            "VED",
            "<TRANSCRIBE> <CAPTION>",
            _label_prompts(*FIELD_NAMES["event"], LABEL_SETS["event"]),
            fields=("event",),
        ),
        Task(
            "SER",
            "<TRANSCRIBE> <EMOTION>",
            _label_prompts(*FIELD_NAMES["emotion"], LABEL_SETS["emotion"]),
            fields=("emotion",),
        ),
        Task(
            "SSR",
            "<TRANSCRIBE> <STYLE>",
            _label_prompts(*FIELD_NAMES["style"], LABEL_SETS["style"]),
            fields=("style",),
        ),
        Task(
            "SGC",
            "<TRANSCRIBE> <GENDER>",
            _label_prompts(*FIELD_NAMES["gender"], LABEL_SETS["gender"]),
            fields=("gender",),
        ),
        Task(
            "SAP",
            "<TRANSCRIBE> <AGE>",
            _label_prompts(*FIELD_NAMES["age"], LABEL_SETS["age"]),
            fields=("age",),
        ),
        Task(
            "STTC",
            "<TRANSCRIBE> <S2TCHAT>",
            _prompts(
                [
                    "Transcribe the speech, then reply to it; separate the two with <开始回答>.",
                    "Write down the question you hear, then answer it after <开始回答>.",
                    "First transcribe, then respond; put <开始回答> between them.",
                ],
                [
                    "首先将语音转录为文字，然后对语音内容进行回复，转录和文字之间使用<开始回答>分割。",
                    "请先转写语音，再回答其中的问题，两者之间用<开始回答>分隔。",
                    "先识别语音内容，然后作出回复，中间加<开始回答>。",
                ],
            ),
            chat=True,
            metric="chat",
        ),
        Task(
            "TRANSCRIBE_AGE_GENDER",
            "<TRANSCRIBE> <AGE> <GENDER>",
            _prompts(
                [
                    "Transcribe the audio, then tag the speaker's age and gender.",
                    "Write down what is said, then add <age> and <gender> tags.",
                ],
                [
                    "请将音频转录为文本，并在结尾依次标注<年龄>和<性别>标签。",
                    "请转写音频，然后在末尾标注说话人的年龄和性别。",
                ],
            ),
            fields=("age", "gender"),
        ),
        Task(
            "AGE_GENDER",
            "<AGE> <GENDER>",
            _prompts(
                ["Tag the speaker's age and gender.", "What are the speaker's age and gender?"],
                ["请标注说话人的<年龄>和<性别>标签。", "请判断说话人的年龄和性别。"],
            ),
            fields=("age", "gender"),
            transcript=False,
        ),
        Task(
            "TRANSCRIBE_STYLE_AGE_GENDER",
            "<TRANSCRIBE> <STYLE> <AGE> <GENDER>",
            _prompts(
                [
                    "Transcribe the audio, then tag the speaking style, the age and the gender.",
                    "Write down what is said, then add <style>, <age> and <gender> tags.",
                ],
                [
                    "请将音频转录为文本，并在结尾依次标注<风格>、<年龄>和<性别>标签。",
                    "请转写音频，然后标注说话风格、说话人年龄和性别。",
                ],
            ),
            fields=("style", "age", "gender"),
        ),
    ]
}


def build_registry(
    overrides: Mapping[str, Mapping] | None = None,
    label_sets: Mapping[str, Sequence[str]] | None = None,
    extra_labels: Mapping[str, Sequence[str]] | None = None,
) -> Dict[str, Task]:
    """The tasks with label sets attached, changed by a recipe's config.

    Args:
        overrides: task name -> fields of :class:`Task` to replace (e.g. ``prompts``).
        label_sets: field -> a label set replacing OSUM's (a corpus's own style labels).
        extra_labels: field -> labels appended to the set (OSUM's set, extended).
    """
    sets = {k: list(v) for k, v in LABEL_SETS.items()}
    for k, v in (label_sets or {}).items():
        sets[k] = [normalize(x) for x in v]
    for k, v in (extra_labels or {}).items():
        sets.setdefault(k, [])
        sets[k] += [normalize(x) for x in v if normalize(x) not in sets[k]]
    unknown = set(overrides or {}) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown tasks {sorted(unknown)}; known: {list(TASKS)}")
    changed = set(label_sets or {}) | set(extra_labels or {})
    registry = {}
    for name, task in TASKS.items():
        over = dict((overrides or {}).get(name, {}))
        fields = tuple(over.get("fields", task.fields))
        missing = [f for f in fields if f not in sets]
        if missing:
            raise ValueError(f"task {name}: no label set for {missing}; known: {sorted(sets)}")
        if len(fields) == 1 and fields[0] in changed and "prompts" not in over:
            # the single-label prompts list the labels: say the ones in use
            what, zh_what = FIELD_NAMES[fields[0]]
            over["prompts"] = _label_prompts(what, zh_what, sets[fields[0]])
        registry[name] = replace(task, **over, label_sets={f: sets[f] for f in fields})
    return registry


def get_task(name: str, registry: Mapping[str, Task] | None = None) -> Task:
    registry = registry if registry is not None else build_registry()
    if name not in registry:
        raise ValueError(f"unknown task {name!r}; known: {list(registry)}")
    return registry[name]


def load_registry(task_conf: str | None = None) -> Dict[str, Task]:
    """The registry a ``task_conf`` YAML file (:func:`build_registry`'s arguments: label sets,
    prompts) describes; without one, the default."""
    conf = {}
    if task_conf:
        import yaml

        with open(task_conf, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
    return build_registry(**conf)
