"""Task registry: targets built from data parse back into the same fields, in both languages."""

import pytest

from osum.asrx.registry import ANSWER_MARKER, LABEL_SETS, TASKS, build_registry, get_task

REG = build_registry()

TEXT = {"en": "Turn ON the light", "zh": "打开 客厅 的灯"}
ALIGN = {
    "en": [(0.12, 0.31, "Turn"), (0.33, 0.45, "ON"), (0.52, 0.6, "the"), (0.61, 1.02, "light")],
    "zh": [(0.1, 0.5, "打开"), (0.5, 0.9, "客厅"), (0.9, 1.0, "的"), (1.0, 1.3, "灯")],
}
ANSWER = {"en": "It is Tuesday", "zh": "今天 星期二"}
NORM = {"en": "turn on the light", "zh": "打开客厅的灯"}


def info_for(task, lang):
    info = dict(text=TEXT[lang], alignment=ALIGN[lang], answer=ANSWER[lang])
    for f in task.fields:
        info[f] = task.label_sets[f][-2]  # a label with a space for "event"
    return info


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", list(TASKS))
def test_round_trip(name, lang):
    task = REG[name]
    info = info_for(task, lang)
    target = task.build_target(info)
    parsed = task.parse(target)
    assert parsed.ok, (target, parsed.flags)
    if task.transcript or task.timestamps:
        assert parsed.transcript == NORM[lang]
    for f in task.fields:
        assert parsed.labels[f] == info[f]
    if task.timestamps:
        assert [w for _, _, w in parsed.alignment] == (
            ["turn", "on", "the", "light"] if lang == "en" else list("打开客厅的灯")
        )
        assert parsed.alignment[0][0] == pytest.approx(ALIGN[lang][0][0], abs=0.005)
    if task.chat:
        assert parsed.answer == ("it is tuesday" if lang == "en" else "今天星期二")
    assert task.parse(target).__dict__ == parsed.__dict__  # deterministic


def test_target_formats():
    assert REG["SER"].build_target(dict(text="I am FINE ", emotion="happy")) == "i am fine<happy>"
    assert (
        REG["TRANSCRIBE_AGE_GENDER"].build_target(dict(text="hi", age="adult", gender="male"))
        == "hi<adult><male>"
    )
    assert REG["AGE_GENDER"].build_target(dict(age="old", gender="female")) == "<old><female>"
    assert REG["STTC"].build_target(dict(text="一加一", answer="二")) == f"一加一{ANSWER_MARKER}二"
    assert (
        REG["VED"].build_target(dict(text="ok", event="throat clearing")) == "ok<throat clearing>"
    )


@pytest.mark.parametrize(
    "task,hyp,flags,expect",
    [
        ("SER", "i am fine", ["missing_tag"], dict(transcript="i am fine", emotion=None)),
        (
            "SER",
            "i am fine<bored>",
            ["unknown_label"],
            dict(transcript="i am fine", emotion="bored"),
        ),
        ("SER", "i am fine<happy> thanks", ["extra_text"], dict(emotion="happy")),
        ("SER", "i <laugh> am fine<sad>", [], dict(transcript="i am fine", emotion="sad")),
        ("TRANSCRIBE_AGE_GENDER", "hi<male>", ["missing_tag"], dict(age=None, gender="male")),
        ("AGE_GENDER", "hello<old><female>", ["extra_text"], dict(age="old", gender="female")),
        ("STTC", "what day is it", ["missing_answer"], dict(transcript="what day is it")),
        ("SRWT", "<0.1>hi<0.5> there", ["untimed_text"], dict(transcript="hi there")),
        ("SRWT", "<0.5>hi<0.1>", ["bad_times"], dict(transcript="hi")),
        ("SRWT", "hello", ["untimed_text", "no_timestamps"], dict(transcript="hello")),
        ("ASR", "", [], dict(transcript="")),
        ("SER", "", ["missing_tag"], dict(transcript="", emotion=None)),
    ],
)
def test_broken_hypotheses_parse_with_flags(task, hyp, flags, expect):
    p = REG[task].parse(hyp)
    assert sorted(p.flags) == sorted(flags)
    for k, v in expect.items():
        assert (p.transcript if k == "transcript" else p.labels[k]) == v


def test_label_sets_from_config():
    reg = build_registry(
        label_sets={"style": ["Happy", "Whisper", "Default"]}, extra_labels={"emotion": ["bored"]}
    )
    assert reg["SSR"].label_sets["style"] == ["happy", "whisper", "default"]
    assert reg["SER"].build_target(dict(text="meh", emotion="bored")) == "meh<bored>"
    assert reg["SER"].parse("meh<bored>").ok
    with pytest.raises(ValueError, match="not one of"):
        REG["SER"].build_target(dict(text="meh", emotion="bored"))
    assert LABEL_SETS["emotion"][-1] == "other"  # the module's sets are untouched


def test_prompts_and_errors():
    for task in TASKS.values():
        assert len(task.prompts["en"]) >= 2 and len(task.prompts["zh"]) >= 2
    assert REG["ASR"].prompt("zh") == "执行语音识别任务，将音频转换为文字。"
    assert REG["SER"].sample_prompt(["en"]) in REG["SER"].prompts["en"]
    with pytest.raises(ValueError, match="known"):
        get_task("XYZ")
    with pytest.raises(ValueError, match=r"needs \['emotion'\]"):
        REG["SER"].build_target(dict(text="hi"))
    with pytest.raises(ValueError, match="unknown tasks"):
        build_registry(overrides={"NOPE": {}})


def test_config_label_sets_reach_the_prompts_and_fields_can_change():
    reg = build_registry(label_sets={"style": ["Default", "Whisper"]})
    assert "default, whisper" in reg["SSR"].prompts["en"][0]
    assert "news/science" not in "".join(reg["SSR"].prompts["zh"])
    assert "news/science" in REG["SSR"].prompts["en"][0]
    two = build_registry(overrides={"SER": {"fields": ("emotion", "gender")}})["SER"]
    assert two.parse("hi<sad><male>").labels == {"emotion": "sad", "gender": "male"}
    with pytest.raises(ValueError, match="no label set"):
        build_registry(overrides={"SER": {"fields": ("mood",)}})


def test_label_tasks_take_clips_without_speech():
    """ESC-50 and VocalSound clips have no transcript: a label task answers the tags alone;
    tasks whose answer is the transcript still need one."""
    for text in ("", None):
        assert REG["VED"].build_target(dict(text=text, event="sneeze")) == "<sneeze>"
    assert (
        REG["TRANSCRIBE_AGE_GENDER"].build_target(dict(age="old", gender="male")) == "<old><male>"
    )
    p = REG["VED"].parse("<cough>")
    assert p.transcript == "" and p.labels == {"event": "cough"} and not p.flags
    for name in ("ASR", "SRWT", "STTC"):
        assert "text" in REG[name].required()
    with pytest.raises(ValueError, match=r"needs \['text'\]"):
        REG["ASR"].build_target(dict(text=""))
