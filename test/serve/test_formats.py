"""Transcription response formats of a decoded result (osum.serve.formats)."""

from osum.asrx.registry import Parsed
from osum.decode.speech2text import Result
from osum.serve import formats


def timed(words) -> Result:
    """An SRWT result of ``[(start, end, word)]``."""
    parsed = Parsed(task="SRWT", transcript=" ".join(w for _, _, w in words), alignment=words)
    return Result(task="SRWT", text="(raw)", parsed=parsed, score=-0.5)


def test_words_become_cues_by_count_and_pause():
    words = [(0.1 * i, 0.1 * i + 0.08, f"w{i}") for i in range(9)]  # 9 words, no pause
    words += [(3.0, 3.4, "after"), (3.5, 3.4, "pause")]  # a pause; an end before its start
    cues = formats.cues(timed(words), duration=4.0)
    assert [len(text.split()) for _, _, text in cues] == [7, 2, 2]
    assert cues[-1] == (3.0, 3.5, "after pause")
    assert timed(words).words()[-1] == {"word": "pause", "start": 3.5, "end": 3.5}


def test_srt_and_vtt():
    result = timed([(0.5, 0.9, "hello"), (1.0, 1.25, "world"), (62.0, 3723.5, "打开灯")])
    cues = formats.cues(result, 4000.0)
    assert formats.srt(cues) == (
        "1\n00:00:00,500 --> 00:00:01,250\nhello world\n\n"
        "2\n00:01:02,000 --> 01:02:03,500\n打开灯\n"
    )
    assert formats.vtt(cues) == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:01.250\nhello world\n\n"
        "00:01:02.000 --> 01:02:03.500\n打开灯\n"
    )


def test_without_word_times_one_cue_spans_the_audio():
    asr = Result(task="ASR", text="Hi there", parsed=Parsed(task="ASR", transcript="hi there"))
    assert formats.cues(asr, 2.5) == [(0.0, 2.5, "hi there")]
    assert formats.render(asr, "json", 2.5, "en", False) == (
        {"text": "hi there"},
        "application/json",
    )
    assert formats.render(asr, "text", 2.5, "en", False)[0] == "hi there\n"
    body, _ = formats.render(asr, "verbose_json", 2.5, "en", True)
    assert body["words"] == [] and body["duration"] == 2.5 and body["language"] == "en"
    (segment,) = body["segments"]
    assert (segment["start"], segment["end"], segment["text"]) == (0.0, 2.5, "hi there")
    assert segment["avg_logprob"] == 0.0 and segment["temperature"] == 0.0
    empty = Result(task="ASR", text="", parsed=Parsed(task="ASR"))
    assert formats.srt(formats.cues(empty, 1.0)) == "" and formats.vtt([]) == "WEBVTT\n\n"


def test_verbose_json_words_only_when_asked():
    result = timed([(0.0, 0.4, "yes")])
    assert "words" not in formats.verbose_json(result, 1.0, "en", with_words=False)
    body = formats.verbose_json(result, 1.0, "en", with_words=True)
    assert body["words"] == [{"word": "yes", "start": 0.0, "end": 0.4}]
    assert body["segments"][0]["compression_ratio"] > 0
