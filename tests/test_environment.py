"""The pip route (constraints.txt) and the conda route (environment.yml) pin the same versions."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("  #")[0].strip().strip('"')
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^;\s]+)\s*(?:;\s*(.*))?$", line)
        if m:
            pins[m.group(1).lower()] = (m.group(2), (m.group(3) or "").strip())
    return pins


def test_constraints_and_environment_yml_agree():
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    env_lines = [l.strip()[2:] for l in (ROOT / "environment.yml").read_text().splitlines()
                 if l.strip().startswith("- \"")]
    assert constraints and _pins(env_lines) == constraints
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_every_direct_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    for dep in deps:
        name = re.match(r"[A-Za-z0-9_.\-]+", dep).group(0).lower()
        if name == project["name"]:       # dev includes the project's own [server] extra
            continue
        assert name in constraints, f"{name} is in pyproject.toml but not pinned in constraints.txt"
    assert constraints["tensorflow"][0].startswith("2.21.")
    assert "tensorflow-cpu" not in constraints, "tf-keras needs the regular wheel; both would clash"


def test_every_place_states_the_same_python_range():
    """Python 3.11-3.13: pyproject's requires-python, the Makefile's check, the doctor's fallback and
    the README agree; the pinned numpy needs 3.11+ (its wheels' Requires-Python), so 3.10 is refused
    up front with instructions rather than by pip halfway through an install."""
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert spec == ">=3.11,<3.14"
    makefile = (ROOT / "Makefile").read_text()
    assert "(3, 11) <= sys.version_info[:2] < (3, 14)" in makefile and "Python 3.11-3.13" in makefile
    assert "ppa:deadsnakes" in makefile and "environment.yml" in makefile
    assert f'"{spec}"' in (ROOT / "tinymlkit" / "doctor.py").read_text()
    assert "Python 3.11, 3.12 or 3.13" in (ROOT / "README.md").read_text()
    from importlib.metadata import metadata

    numpy_needs = metadata("numpy")["Requires-Python"]
    assert numpy_needs.startswith(">=3.11"), numpy_needs
