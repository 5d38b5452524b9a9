"""Import ESPnet's task machinery without its start-up download attempts and their cost.

``espnet2.train.collate_fn`` imports ``espnet2.train.preprocessor``, which imports, at
module level, the text front-ends of ESPnet's TTS recipes:

- ``g2p_en`` (through ``espnet2.text.phoneme_tokenizer``), whose import calls
  ``nltk.download`` for cmudict and a POS tagger (printing errors when offline);
- ``tacotron_cleaner.cleaners`` (through ``espnet2.text.cleaner``), whose import builds an
  ``inflect`` engine, and inflect's run-time type checks are compiled at import.

Together about 3 s of every process's start, for text processing osum never uses. They
are deferred: ``sys.modules`` holds modules that run the real import (downloads included)
the first time one of their attributes is used, as ESPnet's ``g2p_en`` tokenizer or
``tacotron`` cleaner would.

ESPnet's attention module also prints, at import, that the optional ``flash_attn`` is
missing, on stdout; that line is held back.
"""

import contextlib
import importlib
import importlib.machinery
import importlib.util
import io
import sys
import types


class _Deferred(types.ModuleType):
    """A module whose real import waits for the first use of an attribute it lacks."""

    def __getattr__(self, attr: str):
        name = self.__name__
        top = name.split(".")[0]
        # the package and its deferred submodules leave sys.modules together, so that the
        # real package's own imports of them run for real
        group = {
            key: module
            for key, module in list(sys.modules.items())
            if isinstance(module, _Deferred) and (key == top or key.startswith(top + "."))
        }
        for key in group:
            del sys.modules[key]
        try:
            real = importlib.import_module(name)
        except BaseException:
            for key, module in group.items():
                sys.modules.setdefault(key, module)
            raise
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def defer(*names: str) -> None:
    """Register each of ``names`` (a package before its submodules) as deferred, unless
    imported already or not installed (then the importer's own error, when it comes,
    says so). Finding a submodule's spec imports nothing but its parent's location."""
    for name in names:
        if name in sys.modules and not isinstance(sys.modules[name], _Deferred):
            continue  # imported for real already
        parent = name.rpartition(".")[0]
        if parent:
            location = getattr(sys.modules[parent].__spec__, "submodule_search_locations", None)
            spec = importlib.machinery.PathFinder.find_spec(name, location)
        else:
            spec = importlib.util.find_spec(name)
        if spec is None:
            return
        module = _Deferred(name)
        module.__spec__, module.__file__ = spec, spec.origin
        sys.modules[name] = module


defer("g2p_en")
defer("tacotron_cleaner", "tacotron_cleaner.cleaners")

# ESPnet's attention module prints to stdout (where osum's commands write their JSON) that
# the optional flash_attn is missing; anything else it prints is passed on
with contextlib.redirect_stdout(io.StringIO()) as _said:
    import espnet.nets.pytorch_backend.transformer.attention  # noqa: E402,F401
sys.stdout.write(
    "".join(x for x in _said.getvalue().splitlines(True) if "Flash Attention" not in x)
)

import espnet2.tasks.abs_task  # noqa: E402,F401
import espnet2.train.collate_fn  # noqa: E402,F401
