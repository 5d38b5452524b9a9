"""The demo page in a real browser (Debian's chromium, headless, through Selenium) against
``python -m osum.bin.serve``: what it shows for each task is what Speech2Text gives for
the same audio; a file that is no audio, or a missing API key, shows the server's error."""

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import running_server, serving
from fastapi import FastAPI

from osum.serve.demo import CONFIG_SLOT, PAGE, add_demo, demo_tasks, render

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARGS = ["--max_new_tokens", "24"]
KEY = "OSUM_DEMO_KEY"
WAIT = 60  # seconds a page may take to answer


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    from osum.dev.tiny_setup import synth_speech

    path = tmp_path_factory.mktemp("demo_audio") / "light.wav"
    synth_speech("turn on the light", path)
    return path


@pytest.fixture(scope="module")
def s2t(serving_model):
    """The server's model and options, in this process."""
    from osum.decode.speech2text import Speech2Text

    return Speech2Text(str(serving_model), max_new_tokens=int(ARGS[1]))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: test/run.sh installs chromium and its driver")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager downloads nothing
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--no-first-run")
    # a microphone that plays a beep, allowed without asking: the recording path
    options.add_argument("--use-fake-device-for-media-stream")
    options.add_argument("--use-fake-ui-for-media-stream")
    options.add_argument("--window-size=1100,1300")
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def expected(s2t, path: Path, task: str, question: str | None = None):
    """Speech2Text's result for the file's bytes, decoded as the server decodes an upload."""
    from osum.data.audio import decode_audio

    wave = s2t.prepare(decode_audio(path.read_bytes(), path.name), 16000, path.name)
    return s2t.decode_batch([wave], [task], [question])[0]


def run_tasks(driver, audio: Path | None, tasks: list, question: str = "") -> dict:
    """Upload ``audio`` (None: the audio already there), tick exactly ``tasks``, press
    Run; the result boxes by task."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if audio is not None:
        driver.find_element(By.ID, "audio-file").send_keys(str(audio))
        WebDriverWait(driver, 10).until(
            lambda d: audio.name in d.find_element(By.ID, "audio-name").text
        )
    for box in driver.find_elements(By.CSS_SELECTOR, "input.task"):
        if box.is_selected() != (box.get_attribute("value") in tasks):
            box.click()
    field = driver.find_element(By.ID, "question")
    field.clear()
    field.send_keys(question)
    driver.find_element(By.ID, "run").click()

    def finished(d):
        boxes = d.find_elements(By.CSS_SELECTOR, ".result")
        done = [b for b in boxes if b.get_attribute("data-state") in ("done", "error")]
        return len(done) == len(tasks) and {b.get_attribute("data-task"): b for b in done}

    return WebDriverWait(driver, WAIT).until(finished)


def text(element, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return element.find_element(By.CSS_SELECTOR, selector).get_attribute("textContent")


@pytest.mark.slow
def test_the_page_shows_what_the_model_gives(serving_model, s2t, browser, wav, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with running_server(serving_model, *ARGS, log=tmp_path / "server.log") as url:
        browser.get(url + "/")  # redirected to the page
        assert browser.current_url == url + "/demo"
        assert not browser.find_element(By.ID, "key-row").is_displayed()  # no key asked

        ser = run_tasks(browser, wav, ["SER"])["SER"]
        want = expected(s2t, wav, "SER")
        assert ser.get_attribute("data-state") == "done", ser.text
        assert text(ser, ".raw") == want.text
        assert text(ser, ".transcript") == (want.parsed.transcript or "—")
        cell = ser.find_element(By.CSS_SELECTOR, ".labels tr[data-field=emotion] .value")
        assert cell.get_attribute("data-value") == (want.parsed.labels["emotion"] or "")

        question = "what did I say?"
        shown = run_tasks(browser, wav, ["SRWT", "STTC"], question)
        timed, chat = expected(s2t, wav, "SRWT"), expected(s2t, wav, "STTC", question)
        assert text(shown["SRWT"], ".raw") == timed.text
        rows = shown["SRWT"].find_elements(By.CSS_SELECTOR, ".words tr.word-row")
        assert [[text(r, c) for c in (".word", ".start", ".end")] for r in rows] == [
            [w, f"{s:.2f}", f"{max(s, e):.2f}"] for s, e, w in timed.parsed.alignment
        ]
        assert text(shown["STTC"], ".raw") == chat.text
        answer = shown["STTC"].find_element(By.CSS_SELECTOR, ".answer")
        assert answer.get_attribute("data-value") == (chat.parsed.answer or "")

        screenshot = tmp_path / "demo.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 0 and screenshot.read_bytes()[:4] == b"\x89PNG"
        if os.environ.get("OSUM_TEST_ARTIFACTS"):
            Path(os.environ["OSUM_TEST_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot, Path(os.environ["OSUM_TEST_ARTIFACTS"]) / "demo.png")

        notes = tmp_path / "notes.txt"
        notes.write_text("not audio at all\n")
        bad = run_tasks(browser, notes, ["SER"])["SER"]
        assert bad.get_attribute("data-state") == "error"
        assert "not audio" in text(bad, ".error")
        assert bad.find_element(By.CSS_SELECTOR, ".error").is_displayed()

        record = browser.find_element(By.ID, "record")  # the fake microphone's beep
        record.click()
        WebDriverWait(browser, 10).until(
            lambda d: record.get_attribute("data-state") == "recording"
        )
        time.sleep(1.5)
        record.click()
        WebDriverWait(browser, 10).until(
            lambda d: "recording.webm" in d.find_element(By.ID, "audio-name").text
        )
        heard = run_tasks(browser, None, ["ASR"])["ASR"]
        assert heard.get_attribute("data-state") == "done", heard.text
        assert 1.0 < float(text(heard, ".status").split()[0]) < 3.0  # seconds of audio


@pytest.mark.slow
def test_the_page_sends_the_api_key(serving_model, browser, wav, tmp_path):
    from selenium.webdriver.common.by import By

    env = {KEY: "secret"}
    with running_server(serving_model, *ARGS, "--api_key_env", KEY, env=env) as url:
        browser.get(url + "/demo")
        assert browser.find_element(By.ID, "key-row").is_displayed()
        refused = run_tasks(browser, wav, ["ASR"])["ASR"]
        assert refused.get_attribute("data-state") == "error"
        assert "API key" in text(refused, ".error")
        browser.find_element(By.ID, "api-key").send_keys("secret")
        assert run_tasks(browser, wav, ["ASR"])["ASR"].get_attribute("data-state") == "done"


@pytest.mark.slow
def test_the_page_works_under_a_mount(s2t, browser, wav):
    """Mounted at /osum of another app, the page and its requests stay below /osum."""
    from selenium.webdriver.common.by import By

    from osum.decode.engine import Engine
    from osum.serve.app import create_app

    engine = Engine(s2t).start()
    parent = FastAPI()
    parent.mount("/osum", create_app(engine))
    try:
        with serving(parent) as url:
            browser.get(url + "/osum/")
            assert browser.current_url == url + "/osum/demo"
            box = run_tasks(browser, wav, ["ASR"])["ASR"]
            assert box.get_attribute("data-state") == "done", box.text
            assert text(box, ".raw") == expected(s2t, wav, "ASR").text
            assert browser.find_element(By.ID, "run").is_enabled()
    finally:
        engine.close()  # a mounted app's shutdown is not run


# the page's config and routes, without a server


def test_the_config_is_escaped_into_the_page():
    from osum.asrx.registry import build_registry

    tasks = demo_tasks(build_registry())
    assert CONFIG_SLOT in PAGE.read_text(encoding="utf-8")
    assert {t["name"]: t["chat"] for t in tasks}["STTC"] is True
    tasks.append({"name": "X", "prompt": "</script><b>", "fields": [], "timestamps": False})
    page = render(tasks, "my-model", needs_key=True)
    assert "</script><b>" not in page
    start = page.index("const CONFIG = ") + len("const CONFIG = ")
    config = json.loads(page[start : page.index("\n", start)].rstrip(";"))
    assert config == {"model": "my-model", "tasks": tasks, "needs_key": True}


def test_the_routes():
    app = FastAPI()
    app.state.settings = type("Settings", (), {"api_key": "k"})()
    add_demo(app, [], "osum")
    from starlette.requests import Request

    routes = {r.path: r.endpoint for r in app.routes if r.path in ("/", "/demo")}
    page = asyncio.run(routes["/demo"]())
    for root_path in ("", "/osum"):
        request = Request({"type": "http", "root_path": root_path})
        root = asyncio.run(routes["/"](request))
        assert root.status_code == 307 and root.headers["location"] == root_path + "/demo"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert '"needs_key": true' in page.body.decode()
