"""The package reads as the architecture: each layer imports only the layers below it
(function-level imports included), so no two modules import each other."""

import ast
from pathlib import Path

import osum

PACKAGE = Path(osum.__file__).parent
# lowest first: a subpackage may import those before it (and osum.progress, osum.files)
LAYERS = ["model", "asrx", "data", "train", "convert", "decode", "scoring", "serve", "dev"]
LAYERS += ["corpora", "bin"]
# the top-level modules (progress, files, cli): below every layer
BELOW = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def imports(path: Path):
    """The osum subpackages a module imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("osum."):
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("osum.")]
        yield from (name.split(".")[1] for name in names)


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) == 1:  # osum/__init__.py, progress.py, files.py: below every layer
            assert not list(imports(path)), path
            continue
        layer = parts[0]
        assert layer in LAYERS, f"{path}: a subpackage the layers do not name"
        allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | BELOW
        wrong += [
            f"{path.relative_to(PACKAGE)} imports osum.{x}"
            for x in imports(path)
            if x not in allowed
        ]
    assert not wrong, wrong


def test_bin_holds_commands_only():
    """bin/ modules parse arguments and call the package: nothing imports them."""
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("osum.bin"), f"{path} imports {node.module}"
