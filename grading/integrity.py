"""Autograding that a notebook cannot talk its way through: nbgrader's Execute step with the
integrity guard of ``grading/kernel_guard.py`` (configured in ``grading/nbgrader_config.py``).

Before execution, :class:`GuardedExecute`

* inserts one cell first (the guard, the lab's test sources and a fresh HMAC key), which runs
  before any student code and then erases itself from the kernel's history;
* replaces each test cell's source by ``__tmk_guard__("<grade_id>")``.

After execution it removes the inserted cell, puts every test cell's source back, reads and
removes the signed verdict lines, and for every test whose verdict says *failed*, *tampered*
(the state was changed before or during it), *missing* or *forged*, makes sure the cell carries an
error output, so nbgrader's ``SaveAutoGrades`` scores it 0. The findings go to the JSON file named
by ``$TINYMLKIT_INTEGRITY_REPORT`` (grade.py writes them into the summary and the CSV column
``integrity``). A test the guard saw pass keeps its points even if something printed to stderr
while it ran (nbgrader alone scores any stderr output 0; TensorFlow's native log lines go there).
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import pathlib
import secrets
import sys

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from sandbox import package_folder

GUARD_SOURCE = (pathlib.Path(__file__).resolve().parent / "kernel_guard.py").read_text()
MARK = "\u27e6tinymlkit-integrity\u27e7 "
ENV_REPORT = "TINYMLKIT_INTEGRITY_REPORT"


class GradingSetupError(RuntimeError):
    """The guard could not be installed in the kernel (before any student code ran)."""


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {}) if "metadata" in cell else {}


def is_test_cell(cell) -> bool:
    """An autograded test cell: code, ``grade`` and not ``solution``."""
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def module_bindings(cells) -> dict[str, str]:
    """{name: module} bound by ``import x`` / ``import x.y as z`` in the given cells' sources."""
    bindings: dict[str, str] = {}
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bindings[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        bindings[top] = top
    return bindings


def assigned_names(source: str) -> list[str]:
    """Top-level names a cell binds (assignments, ``for``/``with`` targets, defs, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
        for target in targets:
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return sorted(set(names))


def trusted_roots() -> list[str]:
    """Folders of code the student cannot change: the Python installation, the course's
    environment, the tinymlkit package (read-only in the sandbox) and the system."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "/usr/lib", "/usr/share",
             str(package_folder())}
    return sorted(str(pathlib.Path(r).resolve()) for r in roots)


def setup_source(tests: dict[str, str], key: str, bindings: dict[str, str], roots: list[str]) -> str:
    """The inserted first cell: installs the guard; holds every test source (then forgotten)."""
    return (
        "# __tmk_setup__: inserted by the grader before any student code; removed before feedback\n"
        "__tmk_ns = {'__name__': '__tmk_guard__'}\n"
        f"exec(compile({GUARD_SOURCE!r}, '<grading guard>', 'exec'), __tmk_ns)\n"
        f"__tmk_ns['install'](get_ipython(), {tests!r}, {key!r}, {bindings!r}, {roots!r})\n"
        "del __tmk_ns\n")


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GuardedExecute(Execute):
    """nbgrader's Execute with the integrity guard around every test cell (see the module text)."""

    def preprocess(self, nb, resources=None, km=None):
        """Execute ``nb`` with the guard; returns ``(nb, resources)`` like nbgrader's Execute.

        Raises:
            GradingSetupError: the guard could not be installed (no student code had run).
        """
        key = secrets.token_hex(32)
        tests = {}
        originals = {}
        for cell in nb.cells:
            if is_test_cell(cell):
                gid = _nbgrader(cell)["grade_id"]
                tests[gid] = cell.source
                originals[gid] = cell.source
                cell.source = f"__tmk_guard__({gid!r})"
        locked = [c for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("locked")
                  and not _nbgrader(c).get("solution") and not is_test_cell(c)]
        setup = NotebookNode(cell_type="code", execution_count=None, outputs=[], id="tmk-integrity-setup",
                             metadata=NotebookNode(tinymlkit_integrity="setup"),
                             source=setup_source(tests, key, module_bindings(locked), trusted_roots()))
        # after each locked cell: record what it bound, so a test finds the lab's own values
        inserted = [setup]
        for cell in list(locked):
            names = assigned_names(cell.source)
            if names:
                snap = NotebookNode(cell_type="code", execution_count=None, outputs=[], id=f"tmk-snapshot-{len(inserted)}",
                                    metadata=NotebookNode(tinymlkit_integrity="snapshot"),
                                    source=f"__tmk_guard__.snapshot({names!r})")
                nb.cells.insert(nb.cells.index(cell) + 1, snap)
                inserted.append(snap)
        nb.cells.insert(0, setup)
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            nb.cells = [c for c in nb.cells if not any(c is i for i in inserted)]
            for cell in nb.cells:
                if is_test_cell(cell) and _nbgrader(cell)["grade_id"] in originals:
                    cell.source = originals[_nbgrader(cell)["grade_id"]]
        errors = [o for o in setup.outputs if o.output_type == "error"]
        if errors:
            raise GradingSetupError(f"the integrity guard could not start in the kernel: "
                                    f"{errors[0].ename}: {errors[0].evalue}")
        report = self._judge(nb, bytes.fromhex(key))
        path = os.environ.get(ENV_REPORT)
        if path:
            pathlib.Path(path).write_text(json.dumps(report, indent=1))
        return nb, resources

    @staticmethod
    def _verdicts(cell, key: bytes) -> tuple[list[dict], int]:
        """Take the verdict lines out of ``cell``'s outputs: (valid verdicts, forged count)."""
        valid, forged, kept = [], 0, []
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and MARK in output.text:
                lines = []
                for line in output.text.split("\n"):
                    if not line.startswith(MARK):
                        lines.append(line)
                        continue
                    try:
                        record = json.loads(line[len(MARK):])
                        body = json.dumps(record["verdict"], sort_keys=True).encode()
                        good = hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), record["mac"])
                    except (ValueError, KeyError, TypeError):
                        good = False
                    if good:
                        valid.append(record["verdict"])
                    else:
                        forged += 1
                output.text = "\n".join(lines).strip("\n")
                if output.text:
                    output.text += "\n"
                else:
                    continue
            kept.append(output)
        cell.outputs = kept
        return valid, forged

    def _judge(self, nb, key: bytes) -> dict:
        """Score-relevant findings per test; adds an error output where a test must score 0."""
        flags: list[str] = []
        tests: dict[str, dict] = {}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            valid, forged = self._verdicts(cell, key)
            if not is_test_cell(cell):
                if forged:
                    flags.append(f"printed {forged} forged grading verdict line(s)")
                if valid:
                    flags.append("called the grader's test guard from its own code")
                continue
            gid = _nbgrader(cell)["grade_id"]
            timed_out = any(o.output_type == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs)
            problems = []
            if forged:
                problems.append(f"{forged} forged grading verdict line(s)")
            mine = [v for v in valid if v.get("grade_id") == gid]
            if len(valid) > 1 or len(mine) != len(valid):
                problems.append("the test guard was called again from the notebook's code")
            verdict = mine[-1] if mine else None
            if verdict is None and not timed_out:
                problems.append("the test did not run under the grader's guard (its cell was rewritten, "
                                "or the kernel stopped, or its output was hidden)")
            if verdict is not None:
                problems += [f"before the test: {f}" for f in verdict.get("before", [])]
                problems += [f"during the test: {f}" for f in verdict.get("during", [])]
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            if results:
                problems.append("the notebook wrote a result into the test's output (nbgrader would read it "
                                "as partial credit)")
                cell.outputs = [o for o in cell.outputs if o.output_type != "execute_result"]
            passed = verdict is not None and verdict.get("passed") and not problems
            if passed:
                # The guard saw the test pass: a warning or a native library's log line on stderr
                # (TensorFlow's absl lines) must not fail it, as nbgrader's stderr rule would.
                for output in cell.outputs:
                    if output.output_type == "stream" and output.name == "stderr":
                        output.name = "stdout"
            has_error = any(o.output_type == "error" for o in cell.outputs)
            if problems:
                cell.outputs.append(_error_output(
                    "IntegrityError", "this test scores 0: the grading checks found that the notebook "
                    + "; ".join(problems[:3]) + ". Ask your instructor if you think this is wrong."))
            elif not passed and not has_error:
                error = (verdict or {}).get("error") or "the test did not finish"
                cell.outputs.append(_error_output("TestFailed", error))
            tests[gid] = {"passed": bool(passed), "problems": problems, "timed_out": timed_out}
            flags += [f"{gid}: {p}" for p in problems]
        return {"flags": flags, "tests": tests}
