"""The conventions of DEVELOPERS.md and STYLE.md, checked (change the check with the convention)."""

import ast
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinymlkit"
#: Every module of the package, bottom first: a module may import only modules before it, at the
#: top or inside a function alike, so the import graph has no cycle and no upward edge (issue #14).
#: Bottom: errors, file/process helpers and the label rules; then the pipeline stages datasets →
#: features → models/train → quantize → tflm → model settings → op resolver → export → toolchain
#: → boards → report; then the tools around them (class pooling, the wire protocol, the serial
#: link, the laptop microphone, capture sessions, Edge Impulse, the simulated board, plots,
#: widgets), the pipelines, the doctor and the command line. ``__init__``/``__main__`` are the package's entry
#: points, not stages.
STAGES = ["errors", "files", "i18n", "labels", "native",
          "keywords", "audio_sources", "datasets", "images",
          "audio_features", "kit_audio", "features",
          "models", "train", "quantize", "image_features", "optimize", "tflm", "model_settings", "op_resolver", "export", "vision", "anomaly", "toolchain", "boards", "report", "kws_runtime",
          "class_pool", "protocol", "board_link", "microphone", "capture", "eim_runner", "edgeimpulse", "simboard", "plots", "widgets",
          "pipeline", "doctor", "translations", "cli"]
MODULES = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}


def _internal_imports(path: pathlib.Path) -> dict[str, set[str]]:
    """{module imported: names imported from it} for every import of a package module in ``path``,
    at the top or inside functions, in any of the forms ``from .m import x``, ``from . import m``,
    ``from tinymlkit.m import x``, ``import tinymlkit.m``."""
    tree = ast.parse(path.read_text())
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = {a.name for a in node.names}
            if node.level == 1 and node.module:
                found.setdefault(node.module.split(".")[0], set()).update(names)
            elif node.level == 1:  # `from . import x`: count x only if it is a module
                for a in node.names:
                    if a.name in MODULES:
                        found.setdefault(a.name, set())
            elif node.module and node.module.startswith("tinymlkit."):
                found.setdefault(node.module.split(".")[1], set()).update(names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("tinymlkit."):
                    found.setdefault(a.name.split(".")[1], set())
    return {m: n for m, n in found.items() if m in MODULES}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_only_earlier_stages(stage):
    allowed = set(STAGES[:STAGES.index(stage)])
    imports = set(_internal_imports(PACKAGE / f"{stage}.py")) - {stage}
    assert imports <= allowed, f"tinymlkit.{stage} imports later module(s) {sorted(imports - allowed)}"


def test_every_module_is_a_known_stage():
    assert MODULES == set(STAGES), "add new modules to STAGES (in import order) and DEVELOPERS.md"
    assert not [m for m in MODULES if m.startswith("_")], "modules are public stages: no _ modules"


def test_the_package_lists_every_stage_in_order():
    """``tinymlkit/__init__.py``'s module list (lazy loading, ``tk.<module>``) and its docstring's
    arrow chain name the stages in this order: no module missing, none stale."""
    import tinymlkit
    assert list(tinymlkit._SUBMODULES) == STAGES
    chain = " ".join(tinymlkit.__doc__.split("\n\n")[1].split())
    named = [w.strip(",") for w in chain.replace("(bottom)", "").split() if w not in ("→",)]
    assert named == STAGES, "update the module chain in tinymlkit/__init__.py's docstring"


@pytest.mark.parametrize("stage", STAGES)
def test_no_private_name_is_used_across_modules(stage):
    tree = ast.parse((PACKAGE / f"{stage}.py").read_text())
    private = sorted(f"{m}.{n}" for m, names in _internal_imports(PACKAGE / f"{stage}.py").items()
                     for n in names if n.startswith("_") and not n.startswith("__"))
    private += sorted(f"{node.value.id}.{node.attr}" for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id in MODULES and node.attr.startswith("_") and not node.attr.startswith("__"))
    assert not private, f"tinymlkit.{stage} uses private names of other modules: {private}; make them public"


def test_the_layering_check_can_fail(tmp_path):
    """The checks above see imports inside functions and private names (they are not vacuous)."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from .pipeline import run_kws\n    from .keywords import _hidden\n")
    assert _internal_imports(sample) == {"pipeline": {"run_kws"}, "keywords": {"_hidden"}}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_public_functions_have_docstrings(path):
    tree = ast.parse(path.read_text())
    public = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    public += [m for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body
               if isinstance(m, ast.FunctionDef)]
    missing = [n.name for n in public if not n.name.startswith("_") and ast.get_docstring(n) is None]
    assert not missing, f"{path.name}: add docstrings to {missing}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("modules/*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    with_outputs = [i for i, c in enumerate(nb["cells"])
                    if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not with_outputs, f"{path.name}: clear the outputs of cells {with_outputs}"
    first = "".join(nb["cells"][0]["source"])
    assert "Learning objectives" in first and "Time" in first, "a notebook starts with objectives and time"
    assert any("tk.setup(seed=" in "".join(c["source"]) for c in nb["cells"]), "one explicit tk.setup(seed=...) cell"

