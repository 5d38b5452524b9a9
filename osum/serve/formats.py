"""A decoded :class:`~osum.decode.speech2text.Result` in the response formats of OpenAI's
transcription endpoint: json, text, srt, vtt, verbose_json.

Words and their times come from a timestamp task's alignment (SRWT); subtitles group them
into cues of at most :data:`CUE_WORDS` words, a new cue after a pause of
:data:`CUE_PAUSE` s. A result without word times (ASR) is one cue or segment spanning the
audio.
"""

import zlib
from typing import Dict, List, Tuple

from osum.asrx.text_norm import join_units
from osum.decode.speech2text import Result

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
TIMED = ("srt", "vtt")  # formats that need word times: decoded with a timestamp task
CUE_WORDS = 7
CUE_PAUSE = 0.5  # s

Cue = Tuple[float, float, str]  # start s, end s, text


def cues(result: Result, duration: float) -> List[Cue]:
    """The result's words grouped into subtitle cues; one cue of the whole transcript
    (0 to ``duration``) without word times."""
    ws = result.words()
    if not ws:
        text = result.parsed.transcript
        return [(0.0, round(duration, 3), text)] if text else []
    groups: List[List[Dict]] = [[ws[0]]]
    for w in ws[1:]:
        last = groups[-1]
        if len(last) >= CUE_WORDS or w["start"] - last[-1]["end"] >= CUE_PAUSE:
            groups.append([w])
        else:
            last.append(w)
    return [
        (g[0]["start"], max(g[-1]["end"], g[0]["start"]), join_units([w["word"] for w in g]))
        for g in groups
    ]


def clock(seconds: float, decimal: str) -> str:
    """``01:02:03,456`` (srt: ``decimal=","``) or ``01:02:03.456`` (vtt)."""
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def srt(cue_list: List[Cue]) -> str:
    blocks = [
        f"{i}\n{clock(a, ',')} --> {clock(b, ',')}\n{text}\n"
        for i, (a, b, text) in enumerate(cue_list, 1)
    ]
    return "\n".join(blocks)


def vtt(cue_list: List[Cue]) -> str:
    blocks = [f"{clock(a, '.')} --> {clock(b, '.')}\n{text}\n" for a, b, text in cue_list]
    return "WEBVTT\n\n" + "\n".join(blocks)


def compression_ratio(text: str) -> float:
    """Whisper's repetition check: text bytes over their zlib-compressed size."""
    data = text.encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 4) if data else 0.0


def verbose_json(result: Result, duration: float, language: str, with_words: bool) -> dict:
    """OpenAI's ``verbose_json``: the text, its segments (the cues) and, asked for with
    ``timestamp_granularities[]=word``, its words."""
    text = result.parsed.transcript
    segments = [
        {
            "id": i,
            "seek": 0,
            "start": a,
            "end": b,
            "text": cue_text,
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": round(result.score, 4),
            "compression_ratio": compression_ratio(cue_text),
            "no_speech_prob": 0.0,
        }
        for i, (a, b, cue_text) in enumerate(cues(result, duration))
    ]
    out = {
        "task": "transcribe",
        "language": language,
        "duration": round(duration, 3),
        "text": text,
        "segments": segments,
    }
    if with_words:
        out["words"] = result.words()
    return out


def render(result: Result, response_format: str, duration: float, language: str, with_words: bool):
    """(body, media type): a dict for the JSON formats, a str for the text ones."""
    if response_format == "json":
        return {"text": result.parsed.transcript}, "application/json"
    if response_format == "verbose_json":
        return verbose_json(result, duration, language, with_words), "application/json"
    if response_format == "srt":
        return srt(cues(result, duration)), "text/plain; charset=utf-8"
    if response_format == "vtt":
        return vtt(cues(result, duration)), "text/plain; charset=utf-8"
    if response_format == "text":
        return result.parsed.transcript + "\n", "text/plain; charset=utf-8"
    raise ValueError(f"response_format {response_format!r}: one of {', '.join(FORMATS)}")
