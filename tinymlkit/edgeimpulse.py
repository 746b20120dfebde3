"""Stage 11 — edgeimpulse: datasets to and from Edge Impulse, and models as ``.eim`` runners.

Three bridges to Edge Impulse (EI) that work offline:

* :func:`export_dataset` writes a :class:`~tinymlkit.datasets.MotionDataset` as EI *data
  acquisition format* JSON files (docs.edgeimpulse.com/reference/data-ingestion/data-acquisition-format),
  one per recording, in ``training/`` and ``testing/`` split by subject, plus an ``info.labels``
  file (docs.edgeimpulse.com/tools/specifications/data-annotation/ei-labels) that
  ``edge-impulse-uploader`` reads for labels, categories and metadata. Upload later, when online
  (``hardware/edge_impulse/README.md``).
* :func:`import_dataset` reads such a folder back (ours, or a dataset exported from EI Studio).
* :func:`build_eim` packs an exported int8 model into an executable that speaks the EI Linux
  runner protocol, so the official ``edge_impulse_linux`` SDK (``ImpulseRunner``) classifies with
  a course model. The program inside is :mod:`tinymlkit.eim_runner`.

A file's label is the part of its name before the first ``.`` (EI's rule: ``^[a-zA-Z0-9\\s-_]+``,
ingestion API docs), e.g. ``PEN.s08.left.r100.json``; the subject, side and recording index
travel in the name and in ``info.labels`` metadata.
"""

from __future__ import annotations

import hashlib
import hmac as hmac_lib
import io
import json
import pathlib
import re
import sys
import tempfile
import zipapp

import numpy as np

from .datasets import DEFAULT_TEST_SUBJECTS, DatasetError, MotionDataset
from .export import load_model_files
from .files import write_atomic
from .quantize import model_io

__all__ = ["CHANNEL_UNITS", "build_eim", "export_dataset", "import_dataset"]

#: Units of the course's IMU channels (``data/motion/DATACARD.md``), as EI ``sensors[].units``.
CHANNEL_UNITS: dict[str, str] = {"ax": "g", "ay": "g", "az": "g",
                                 "wx": "rad/s", "wy": "rad/s", "wz": "rad/s"}
#: An HS256 signature is 32 bytes, written as 64 hex digits; a file is signed with this
#: placeholder in its ``signature`` field, which the hex digest then replaces (EI's examples).
EMPTY_SIGNATURE = "0" * 64
_LABEL_RE = re.compile(r"[a-zA-Z0-9\s_-]+")  # EI's label-from-file-name rule
_NAME_RE = re.compile(r"^(?P<label>[^.]+)\.s(?P<subject>\d+)\.(?P<side>left|right)\.r(?P<rec>\d+)\.json$")
_SIGNATURE_RE = re.compile(rb'"signature"\s*:\s*"([0-9a-fA-F]{64})"')
_SIDES = {0: "left", 1: "right"}


def _values_text(rec: np.ndarray) -> str:
    """Rows as JSON text, each float32 written with the fewest digits that read back exactly."""
    text = rec.astype("U24")  # numpy's shortest round-trip repr of each float32
    back = text.astype(np.float64).astype(np.float32)
    bad = back != rec
    if bad.any():  # never seen; fall back to the float64 repr, which is always exact
        text[bad] = [repr(float(v)) for v in rec[bad]]
    return "[" + ",".join("[" + ",".join(row) + "]" for row in text.tolist()) + "]"


def _sign(text: str, hmac_key: str | None) -> str:
    if hmac_key is None:
        return text
    digest = hmac_lib.new(hmac_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
    return text.replace(f'"signature":"{EMPTY_SIGNATURE}"', f'"signature":"{digest}"', 1)


def export_dataset(ds: MotionDataset, out_dir: str | pathlib.Path, hmac_key: str | None = None,
                   test_subjects: tuple[int, ...] = DEFAULT_TEST_SUBJECTS,
                   device_type: str = "APPLE_WATCH") -> list[pathlib.Path]:
    """Write every recording as an EI data acquisition JSON file, plus ``info.labels``.

    Files are ``<out_dir>/{training,testing}/<label>.s<subject>.<side>.r<index>.json`` (testing
    = ``test_subjects``), compact JSON: ``protected`` ``{"ver": "v1", "alg": "none"|"HS256"}``,
    ``signature``, ``payload`` with ``device_type``, ``interval_ms`` (1000 / rate, ms),
    ``sensors`` (``[{"name": "ax", "units": "g"}, ...]``) and ``values`` (one row of channel
    values per sample, each float32 written so it reads back bit for bit). No ``iat``: the same
    data gives the same bytes. ``info.labels`` lists every file with its category, label and
    metadata (``subject``, ``side``, ``recording``, ``class_index``, as strings). Each file is
    written atomically; other files already in ``out_dir`` are left alone (and ignored by
    :func:`import_dataset`, which reads the files ``info.labels`` lists).

    Args:
        ds: the dataset (recordings ``(n_i, C)`` float32 in sensor units).
        out_dir: destination folder (created).
        hmac_key: sign each file with HMAC-SHA256 under this key (the project's HMAC key in EI
            Studio, Dashboard → Keys); default unsigned (``alg: none``, 64 zeros).
        test_subjects: subjects whose recordings go to ``testing/`` (the rest, and everything
            when none of them occurs, to ``training/``); default
            :data:`~tinymlkit.datasets.DEFAULT_TEST_SUBJECTS`.
        device_type: EI's ``device_type``; the shipped data came from an Apple Watch (DATACARD.md).

    Returns:
        The paths written: the recordings in dataset order, then ``info.labels``.

    Raises:
        ValueError: a class name that EI cannot read from a file name (letters, digits, space,
            ``_`` and ``-`` only), or a recording holding NaN or infinity (clean the data first).
    """
    out_dir = pathlib.Path(out_dir)
    bad = [c for c in ds.class_names if not _LABEL_RE.fullmatch(c)]
    if bad:
        raise ValueError(f"class name(s) {bad} cannot be an Edge Impulse file-name label; use "
                         "letters, digits, spaces, '_' and '-' only")
    test_mask = np.isin(ds.subject_ids, test_subjects)
    interval = 1000.0 / ds.sample_rate_hz
    sensors = [{"name": c, "units": CHANNEL_UNITS.get(c, "")} for c in ds.channel_names]
    written, entries = [], []
    for i, rec in enumerate(ds.recordings):
        rec = np.asarray(rec, dtype=np.float32)
        if not np.all(np.isfinite(rec)):
            raise ValueError(f"recording {i} holds NaN or infinity; EI's JSON cannot carry it — "
                             "fill or drop the gaps first")
        label = ds.class_names[int(ds.labels[i])]
        subject, side = int(ds.subject_ids[i]), _SIDES[int(ds.sides[i])]
        category = "testing" if test_mask[i] else "training"
        rel = f"{category}/{label}.s{subject:02d}.{side}.r{i:03d}.json"
        doc = {"protected": {"ver": "v1", "alg": "HS256" if hmac_key is not None else "none"},
               "signature": EMPTY_SIGNATURE,
               "payload": {"device_type": device_type,
                           "interval_ms": int(interval) if interval.is_integer() else interval,
                           "sensors": sensors, "values": "@VALUES@"}}
        text = json.dumps(doc, separators=(",", ":")).replace('"@VALUES@"', _values_text(rec), 1)
        written.append(write_atomic(out_dir / rel, _sign(text, hmac_key)))
        entries.append({"path": rel, "name": rel.split("/")[1][:-len(".json")], "category": category,
                        "label": {"type": "label", "label": label},
                        "metadata": {"subject": str(subject), "side": side, "recording": str(i),
                                     "class_index": str(int(ds.labels[i]))}})
    info = json.dumps({"version": 1, "files": entries}, indent=2) + "\n"
    written.append(write_atomic(out_dir / "info.labels", info))
    return written


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fail(path: pathlib.Path, fault: str) -> DatasetError:
    return DatasetError(f"'{path}': {fault}")


def _read_info_labels(folder: pathlib.Path) -> dict[pathlib.Path, dict]:
    """``{absolute file path: info.labels entry}`` from every ``info.labels`` under ``folder``."""
    entries = {}
    for info in sorted(folder.rglob("info.labels")):
        try:
            doc = json.loads(info.read_text(encoding="utf-8"))
            files = doc["files"]
            for e in files:
                entries[(info.parent / e["path"]).resolve()] = e
        except (ValueError, KeyError, TypeError) as exc:
            raise _fail(info, f"not a valid info.labels file ({type(exc).__name__}: {exc}); "
                        "expected {\"version\": 1, \"files\": [{\"path\": ..., \"label\": ...}]}") from exc
    return entries


def _read_file(path: pathlib.Path, hmac_key: str | None) -> tuple[dict, np.ndarray]:
    """Parse and check one data acquisition file; returns ``(payload, values (n, C) float32)``."""
    try:
        raw = path.read_bytes()
        doc = json.loads(raw)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"not a JSON file ({exc})") from exc
    missing = [k for k in ("protected", "signature", "payload") if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise _fail(path, f"missing key(s) {', '.join(missing)}; an Edge Impulse data acquisition "
                    "file has protected, signature and payload")
    payload, prot = doc["payload"], doc["protected"]
    missing = [f"payload.{k}" for k in ("interval_ms", "sensors", "values")
               if not isinstance(payload, dict) or k not in payload]
    missing += [f"protected.{k}" for k in ("ver", "alg") if not isinstance(prot, dict) or k not in prot]
    if missing:
        raise _fail(path, f"missing key(s) {', '.join(missing)}")
    if prot["alg"] not in ("none", "HS256"):
        raise _fail(path, f"protected.alg is {prot['alg']!r}; expected 'none' or 'HS256'")
    if hmac_key is not None:
        if prot["alg"] != "HS256":
            raise _fail(path, "not signed (alg 'none'), but an HMAC key was given to check it")
        found = list(_SIGNATURE_RE.finditer(raw))
        ok = len(found) == 1
        if ok:  # HMAC over the file's own bytes with the placeholder back in the signature field
            sig = found[0]
            zeroed = raw[:sig.start(1)] + EMPTY_SIGNATURE.encode() + raw[sig.end(1):]
            expected = hmac_lib.new(hmac_key.encode("utf-8"), zeroed, hashlib.sha256).hexdigest()
            ok = hmac_lib.compare_digest(sig.group(1).decode().lower(), expected)
        if not ok:
            raise _fail(path, "bad signature: the HMAC-SHA256 under the given key does not match, "
                        "so the file was changed after signing or signed with another key")
    sensors = payload["sensors"]
    if (not isinstance(sensors, list) or not sensors
            or not all(isinstance(s, dict) and "name" in s and "units" in s for s in sensors)):
        raise _fail(path, "payload.sensors must be a non-empty list of {\"name\", \"units\"}")
    if not _number(payload["interval_ms"]) or payload["interval_ms"] <= 0:
        raise _fail(path, f"payload.interval_ms is {payload['interval_ms']!r}; expected a positive number of ms")
    values = payload["values"]
    if not isinstance(values, list) or not values:
        raise _fail(path, "payload.values is empty or not a list of samples")
    for i, row in enumerate(values):
        if not isinstance(row, list):
            raise _fail(path, f"payload.values[{i}] is not a list; expected one value per sensor")
        if len(row) != len(sensors):
            raise _fail(path, f"payload.values[{i}] has {len(row)} values but there are "
                        f"{len(sensors)} sensors ({', '.join(str(s['name']) for s in sensors)})")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"payload.values holds something that is not a number ({exc})") from exc
    if not np.all(np.isfinite(arr)):
        raise _fail(path, f"payload.values row {int(np.flatnonzero(~np.isfinite(arr).all(1))[0])} "
                    "holds NaN or infinity")
    return payload, arr.astype(np.float32)


def import_dataset(source: str | pathlib.Path | list, hmac_key: str | None = None) -> MotionDataset:
    """Read EI data acquisition JSON files into a :class:`~tinymlkit.datasets.MotionDataset`.

    Labels come from ``info.labels`` when it lists the file (EI exports and
    :func:`export_dataset` write one), else from the file name before the first ``.``. Subject,
    side and recording order come from ``info.labels`` metadata or our file names
    (``PEN.s08.left.r100.json``); a file with neither gets subject 0 (unknown), side 0 (left:
    used as it is) and is ordered by path. Class order follows ``class_index`` metadata, else
    the sorted labels.

    Args:
        source: a folder (the files its ``info.labels`` lists, else every ``*.json`` under it),
            or a list of ``.json`` paths (labelled by file name).
        hmac_key: check every file's HS256 signature with this key; default: not checked.

    Returns:
        A :class:`MotionDataset`: recordings ``(n_i, C)`` float32 in the files' units, channel
        names from ``sensors``, ``sample_rate_hz = 1000 / interval_ms``; ``path`` is the folder
        (or the first file).

    Raises:
        DatasetError: naming the file and the fault — not JSON, missing keys, ragged rows or a
            row whose value count differs from the sensors, not numbers, a bad or missing
            signature (when ``hmac_key`` is given), an ``interval_ms`` or ``sensors`` that
            differ from the first file's, IMU units other than the course's (g, rad/s), an
            unlabelled or multi-label sample, a listed file that is missing, or no file at all.
    """
    entries: dict[pathlib.Path, dict] = {}
    if isinstance(source, (str, pathlib.Path)) and pathlib.Path(source).is_dir():
        root = pathlib.Path(source)
        entries = _read_info_labels(root)
        paths = sorted(entries) if entries else sorted(root.rglob("*.json"))
    else:
        paths = [pathlib.Path(p) for p in ([source] if isinstance(source, (str, pathlib.Path)) else source)]
        if isinstance(source, (str, pathlib.Path)) and not paths[0].exists():
            raise DatasetError(f"'{source}': no such file or folder")
        root = paths[0] if paths else pathlib.Path(str(source))
    if not paths:
        raise DatasetError(f"'{root}': no Edge Impulse .json files found")
    recs, labels, metas, first = [], [], [], None
    for path in paths:
        if not path.is_file():
            raise _fail(path, "file not found (listed in info.labels)" if entries else "file not found")
        payload, values = _read_file(path, hmac_key)
        sensors = [(str(s["name"]), str(s["units"])) for s in payload["sensors"]]
        if first is None:
            first = (path, float(payload["interval_ms"]), sensors)
            wrong = [f"{n} in {u}" for n, u in sensors if n in CHANNEL_UNITS and u != CHANNEL_UNITS[n]]
            if wrong:
                raise _fail(path, f"sensor units {', '.join(wrong)}; the course uses "
                            f"{', '.join(f'{n} in {u}' for n, u in CHANNEL_UNITS.items())} — convert first")
        elif float(payload["interval_ms"]) != first[1]:
            raise _fail(path, f"interval_ms is {payload['interval_ms']} but '{first[0]}' has {first[1]:g}; "
                        "every file of a dataset must have the same sampling rate")
        elif sensors != first[2]:
            raise _fail(path, f"sensors {sensors} differ from those of '{first[0]}' ({first[2]})")
        entry = entries.get(path.resolve(), {})
        meta, m = dict(entry.get("metadata") or {}), _NAME_RE.match(path.name)
        lab = entry.get("label")
        if lab is not None and (not isinstance(lab, dict) or lab.get("type") != "label" or "label" not in lab):
            raise _fail(path, f"info.labels gives label {lab!r}; only single-label samples "
                        "({\"type\": \"label\", \"label\": ...}) can be imported")
        from_name = _LABEL_RE.match(path.name)
        if not lab and not from_name:
            raise _fail(path, "no label: the file name does not start with one and no info.labels lists it")
        labels.append(str(lab["label"]) if lab else from_name.group(0).strip())
        if m:
            for key, group in (("subject", "subject"), ("side", "side"), ("recording", "rec")):
                meta.setdefault(key, m.group(group))
        recs.append(values)
        metas.append(meta)
    try:
        index = {lab: int(m["class_index"]) for lab, m in zip(labels, metas) if "class_index" in m}
        if len(index) == len(set(labels)) and len(set(index.values())) == len(index):
            class_names = tuple(sorted(index, key=index.get))
        else:
            class_names = tuple(sorted(set(labels)))
        subjects = [int(m.get("subject", 0)) for m in metas]
        sides = [{"left": 0, "right": 1}[str(m.get("side", "left"))] for m in metas]
        order = sorted(range(len(recs)), key=lambda i: (int(metas[i].get("recording", 1 << 62)), i))
    except (KeyError, ValueError) as exc:
        raise DatasetError(f"'{root}': bad subject, side, recording or class_index metadata "
                           f"({type(exc).__name__}: {exc})") from exc
    return MotionDataset(
        recordings=[recs[i] for i in order],
        labels=np.array([class_names.index(labels[i]) for i in order], dtype=np.int64),
        class_names=class_names,
        subject_ids=np.array([subjects[i] for i in order], dtype=np.int64),
        sides=np.array([sides[i] for i in order], dtype=np.int64),
        channel_names=tuple(n for n, _ in first[2]),
        sample_rate_hz=1000.0 / first[1],
        path=root)


def build_eim(model: str | pathlib.Path, out_path: str | pathlib.Path | None = None,
              wrist: str = "left", interpreter: str | None = None) -> pathlib.Path:
    """Make an Edge Impulse Linux runner (``.eim``) from an exported int8 model.

    The ``.eim`` is one self-contained executable file: a Python zipapp (stdlib :mod:`zipapp`)
    holding :mod:`tinymlkit.eim_runner`, ``model_int8.tflite`` and ``model_settings.json``, with
    a ``#!`` line naming ``interpreter``. That interpreter needs numpy and ``tflite-micro`` (the
    TFLM interpreter, Linux x86_64) or ``ai-edge-litert`` (used where TFLM is missing); tinymlkit
    itself is not needed. ``edge_impulse_linux.runner.ImpulseRunner(path)`` runs it like a native
    ``.eim``: ``classify`` takes ``window_samples × channels`` raw values in sensor units,
    interleaved sample by sample (``ax0, ay0, …, wz0, ax1, …``); the reply gives the softmax
    probability of each label.

    Args:
        model: an exported model folder (``model_int8.tflite`` + ``model_settings.json``) or the
            ``.tflite`` in it.
        out_path: where to write; default ``model.eim`` beside the model. Written atomically and
            made executable (mode 755).
        wrist: where the sensor is worn: ``"left"`` (data used as it is: the frame the course
            models are trained in) or ``"right"`` (mirrored with the settings' ``channel_signs``
            first, as a right-wrist kit does).
        interpreter: the Python the ``.eim`` runs with; default this one (``sys.executable``).
            Give ``/usr/bin/python3`` to build for another machine such as a Raspberry Pi.

    Returns:
        The path of the ``.eim``.

    Raises:
        ModelFilesError: a model file is missing or ``model_settings.json`` is corrupt.
        ValueError: ``wrist`` is not left or right, the model's input is not int8
            ``(1, window_samples, channels)`` as the settings say, or the interpreter path cannot
            go in a ``#!`` line (spaces, over 127 characters).
    """
    if wrist not in ("left", "right"):
        raise ValueError(f"wrist must be 'left' or 'right', got {wrist!r}")
    model = pathlib.Path(model)
    model_bytes, settings = load_model_files(model, kind="motion")
    io_ = model_io(model_bytes)
    expect = (1, settings.window_samples, len(settings.channel_names))
    if tuple(io_.input_shape) != expect or np.dtype(io_.input_dtype) != np.int8:
        raise ValueError(f"the model's input is {np.dtype(io_.input_dtype)} {tuple(io_.input_shape)}, "
                         f"model_settings.json says int8 {expect}; re-export the model")
    interpreter = interpreter or sys.executable
    if re.search(r"\s", interpreter) or len(interpreter) > 127:
        raise ValueError(f"interpreter {interpreter!r} cannot go in a '#!' line (no spaces, at most "
                         "127 characters); pass another path, e.g. /usr/bin/python3")
    folder = model if model.is_dir() else model.parent
    out_path = pathlib.Path(out_path) if out_path is not None else folder / "model.eim"
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp)
        (src / "eim_runner.py").write_bytes(pathlib.Path(__file__).with_name("eim_runner.py").read_bytes())
        (src / "model_int8.tflite").write_bytes(model_bytes)
        bundled = {**settings.to_dict(), "wrist": wrist}
        (src / "model_settings.json").write_text(json.dumps(bundled, indent=2) + "\n")
        buf = io.BytesIO()
        zipapp.create_archive(src, buf, interpreter=interpreter, main="eim_runner:main", compressed=True)
    write_atomic(out_path, buf.getvalue())
    out_path.chmod(0o755)
    return out_path
