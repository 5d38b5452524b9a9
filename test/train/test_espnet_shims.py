"""Entry points import quietly and offline: ESPnet's import-time nltk downloads stay off."""

import os
import subprocess
import sys

import pytest

# Put first on PYTHONPATH, this sitecustomize watches the process from its start: nltk
# finds its data only in $NLTK_DATA (an empty dir), nltk.download and any network use
# (DNS look-up, connect, urllib request) are written to $NET_LOG and refused.
SITECUSTOMIZE = r"""
import importlib.abc, importlib.machinery, os, socket, sys

_log = os.environ["NET_LOG"]


def _record(what):
    with open(_log, "a") as f:
        f.write(what + "\n")


def _audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                 "urllib.Request"):
        _record(f"{event} {args[1] if event == 'socket.connect' else args[0]}")
        raise OSError(f"network refused by the test: {event}")


sys.addaudithook(_audit)


def _refused_download(*args, **kwargs):
    _record(f"nltk.download {args[0] if args else kwargs.get('info_or_id')}")
    return False


def _patch(module):
    if module.__name__ == "nltk.data":  # no data anywhere but $NLTK_DATA
        module.path[:] = [os.environ["NLTK_DATA"]]
    else:  # nltk.downloader: the module's download() is a bound method of an instance
        module.download = _refused_download
        module.Downloader.download = lambda self, *a, **k: _refused_download(*a, **k)


class _Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in ("nltk.data", "nltk.downloader"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Watch())
"""


def run_offline(code, tmp_path):
    """Run ``code`` in a fresh interpreter with no NLTK data, no network (what it tried is
    logged) and an empty home; returns the process and the log's lines."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp_path / "nltk_data").mkdir()
    (tmp_path / "home").mkdir()
    log = tmp_path / "net.log"
    log.touch()
    unroutable = "http://127.0.0.1:9"  # the discard port: a proxy that never answers
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        NLTK_DATA=str(tmp_path / "nltk_data"),
        HOME=str(tmp_path / "home"),
        NET_LOG=str(log),
        http_proxy=unroutable,
        https_proxy=unroutable,
        HTTP_PROXY=unroutable,
        HTTPS_PROXY=unroutable,
        no_proxy="",
        NO_PROXY="",
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    return proc, log.read_text().splitlines()


def test_the_offline_harness_sees_nltk_downloads(tmp_path):
    """The control: without osum's shims, importing g2p_en (as ESPnet's preprocessor does)
    finds no NLTK data and tries to download it; the harness sees that, and any network
    use, and refuses it."""
    code = (
        "import urllib.request\n"
        "import g2p_en\n"
        "try:\n"
        "    urllib.request.urlopen('http://example.invalid/', timeout=1)\n"
        "except OSError:\n"
        "    print('refused')\n"
    )
    proc, log = run_offline(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "refused"
    assert "nltk.download cmudict" in log, log
    assert any(line.startswith("nltk.download averaged_perceptron_tagger") for line in log), log
    assert "urllib.Request http://example.invalid/" in log, log


@pytest.mark.parametrize("module", ["osum.bin.osum_train", "osum.bin.osum_inference"])
def test_no_download_attempt_on_import(module, tmp_path):
    """The entry points and the task import with no NLTK data anywhere and no network,
    and try neither nltk.download nor any connection: nltk is not even imported."""
    code = (
        f"import sys, {module}, osum.train.task\n"
        "print('imported', 'nltk' in sys.modules, 'g2p_en.g2p' in sys.modules)\n"
    )
    proc, log = run_offline(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "imported False False"
    assert log == [], log
    assert "nltk_data" not in proc.stderr, proc.stderr[-2000:]


def test_text_front_ends_load_on_first_use():
    """ESPnet's TTS text front-ends (g2p_en, tacotron_cleaner with inflect) are not
    imported at start-up, and still work when used."""
    code = (
        "import sys, osum.train.task\n"
        "print(sorted(m for m in ('nltk', 'inflect', 'g2p_en.g2p') if m in sys.modules))\n"
        "from espnet2.text.cleaner import TextCleaner\n"
        "print(TextCleaner(['tacotron'])('Dr. Smith paid $25.'))\n"
        "import tacotron_cleaner\n"
        "print('inflect' in sys.modules, len(tacotron_cleaner.symbols) > 10)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-3:] == [  # after ESPnet's flash_attn notice
        "[]",
        "DOCTOR SMITH PAID TWENTY FIVE DOLLARS.",
        "True True",
    ]
