"""The conventions of DEVELOPERS.md and STYLE.md, checked (change the check with the convention)."""

import ast
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinymlkit"
#: Pipeline order: a stage may import only stages before it (helpers starting with _ are free).
STAGES = ["datasets", "features", "models", "train", "quantize", "optimize", "tflm", "export", "toolchain", "boards",
          "report", "capture", "edgeimpulse", "simboard", "plots", "widgets", "pipeline", "cli"]


def _internal_imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # `from . import x`: count x only if it is a module
                found.update(a.name for a in node.names if (PACKAGE / f"{a.name}.py").exists())
            elif node.module and node.module.startswith("tinymlkit."):
                found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_only_earlier_stages(stage):
    allowed = set(STAGES[:STAGES.index(stage)])
    imports = {m for m in _internal_imports(PACKAGE / f"{stage}.py") if not m.startswith("_")}
    assert imports <= allowed, f"tinymlkit.{stage} imports later stage(s) {sorted(imports - allowed)}"


def test_every_module_is_a_known_stage():
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert modules == set(STAGES), "add new modules to STAGES (in pipeline order) and DEVELOPERS.md"


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

