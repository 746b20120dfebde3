"""Stage 11: Edge Impulse data acquisition JSON round trip, info.labels, signatures, bad files,
and a .eim driven by the official Edge Impulse Linux SDK's ImpulseRunner."""

import dataclasses
import hashlib
import hmac
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

from tinymlkit.cli import main as cli_main
from tinymlkit.datasets import DEFAULT_TEST_SUBJECTS, DatasetError
from tinymlkit.edgeimpulse import build_eim, export_dataset, import_dataset
from tinymlkit.export import load_model_files
from tinymlkit.features import window_recordings
from tinymlkit.quantize import dequantize, quantize
from tinymlkit.tflm import predict_int8, tflm_available

EI_LABEL_FROM_NAME = re.compile(r"^[a-zA-Z0-9\s_-]+")  # EI ingestion API docs: ^[a-zA-Z0-9\s-_]+
SIGNATURE = re.compile(r'"signature"\s*:\s*"([0-9a-f]{64})"')


def ei_impulse_runner():
    """The SDK's ImpulseRunner class, imported the way users import it (the package imports its
    camera helper, which needs OpenCV: opencv-python-headless is a dev dependency)."""
    from edge_impulse_linux.runner import ImpulseRunner

    return ImpulseRunner


def bitwise_equal(a, b):
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and np.array_equal(
        a.view(np.uint32), b.view(np.uint32))


def subset(ds, subjects):
    keep = np.flatnonzero(np.isin(ds.subject_ids, subjects))
    return dataclasses.replace(ds, recordings=[ds.recordings[i] for i in keep], labels=ds.labels[keep],
                               subject_ids=ds.subject_ids[keep], sides=ds.sides[keep])


@pytest.fixture(scope="module")
def exported(motion, tmp_path_factory):
    out = tmp_path_factory.mktemp("ei") / "motion"
    return out, export_dataset(motion, out)


# ---- dataset export and import ----------------------------------------------------------------

def test_full_dataset_round_trip_is_exact(motion, exported):
    back = import_dataset(exported[0])
    assert len(back) == len(motion) == 140
    assert all(bitwise_equal(a, b) for a, b in zip(motion.recordings, back.recordings))
    for field in ("labels", "subject_ids", "sides"):
        assert np.array_equal(getattr(back, field), getattr(motion, field)), field
        assert getattr(back, field).dtype == np.int64
    assert back.class_names == motion.class_names
    assert back.channel_names == motion.channel_names
    assert back.sample_rate_hz == motion.sample_rate_hz


def test_files_are_in_the_data_acquisition_format(motion, exported):
    out, paths = exported
    recordings = paths[:-1]
    assert len(recordings) == len(motion) and paths[-1] == out / "info.labels"
    for i, path in enumerate(recordings):
        label = motion.class_names[motion.labels[i]]
        assert EI_LABEL_FROM_NAME.match(path.name).group(0) == label  # EI's label from the name
        expected = "testing" if motion.subject_ids[i] in DEFAULT_TEST_SUBJECTS else "training"
        assert path.parent == out / expected
    doc = json.loads(recordings[5].read_text())
    assert doc["protected"] == {"ver": "v1", "alg": "none"}
    assert doc["signature"] == "0" * 64
    payload = doc["payload"]
    assert payload["interval_ms"] == 1000 / motion.sample_rate_hz
    assert payload["sensors"] == [{"name": "ax", "units": "g"}, {"name": "ay", "units": "g"},
                                  {"name": "az", "units": "g"}, {"name": "wx", "units": "rad/s"},
                                  {"name": "wy", "units": "rad/s"}, {"name": "wz", "units": "rad/s"}]
    assert np.array_equal(np.asarray(payload["values"], np.float32), motion.recordings[5])
    n_test = int(np.isin(motion.subject_ids, DEFAULT_TEST_SUBJECTS).sum())
    assert len(list((out / "testing").glob("*.json"))) == n_test
    assert len(list((out / "training").glob("*.json"))) == len(motion) - n_test


def test_info_labels_lists_every_file_with_label_category_and_metadata(motion, exported):
    out, _ = exported
    info = json.loads((out / "info.labels").read_text())
    assert info["version"] == 1 and len(info["files"]) == len(motion)
    for i, entry in enumerate(info["files"]):
        assert (out / entry["path"]).is_file()
        assert entry["category"] == entry["path"].split("/")[0]
        assert entry["label"] == {"type": "label", "label": motion.class_names[motion.labels[i]]}
        assert entry["name"] == pathlib.Path(entry["path"]).stem
        assert entry["metadata"] == {"subject": str(motion.subject_ids[i]),
                                     "side": "right" if motion.sides[i] == 1 else "left",
                                     "recording": str(i), "class_index": str(motion.labels[i])}


def test_signed_round_trip_and_a_tampered_file_is_rejected(motion, tmp_path):
    ds = subset(motion, (1, 8))
    key = "a21230b301b87cead81ed89c3a4948c7"
    paths = export_dataset(ds, tmp_path / "signed", hmac_key=key)[:-1]
    for path in paths:  # check each signature independently: HMAC-SHA256 with 64 zeros in place
        raw = path.read_text()
        doc = json.loads(raw)
        assert doc["protected"] == {"ver": "v1", "alg": "HS256"}
        unsigned = raw.replace(doc["signature"], "0" * 64)
        assert doc["signature"] == hmac.new(key.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    back = import_dataset(tmp_path / "signed", hmac_key=key)
    assert all(bitwise_equal(a, b) for a, b in zip(ds.recordings, back.recordings))
    assert np.array_equal(back.subject_ids, ds.subject_ids) and np.array_equal(back.labels, ds.labels)

    with pytest.raises(DatasetError, match="bad signature"):
        import_dataset(tmp_path / "signed", hmac_key="another key")
    victim = paths[3]
    raw = victim.read_text()
    first_value = re.search(r'"values":\[\[(-?[0-9.]+)', raw)
    tampered = raw[:first_value.start(1)] + "7.5" + raw[first_value.end(1):]
    victim.write_text(tampered)
    with pytest.raises(DatasetError, match=rf"{re.escape(victim.name)}'.*bad signature"):
        import_dataset(tmp_path / "signed", hmac_key=key)
    assert import_dataset(tmp_path / "signed").recordings[3][0, 0] == np.float32(7.5)  # unchecked

    unsigned = export_dataset(ds, tmp_path / "unsigned")
    with pytest.raises(DatasetError, match="not signed"):
        import_dataset(unsigned[0], hmac_key=key)


def _good_file(values=((0.01, -0.98, 0.1, 0.0, 0.2, -0.3), (0.02, -0.97, 0.11, 0.01, 0.2, -0.31)),
               interval_ms=20, sensors=None):
    units = ["g"] * 3 + ["rad/s"] * 3
    sensors = sensors or [{"name": n, "units": u} for n, u in zip(("ax", "ay", "az", "wx", "wy", "wz"), units)]
    return {"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64,
            "payload": {"device_type": "TEST", "interval_ms": interval_ms, "sensors": sensors,
                        "values": [list(v) for v in values]}}


def _without(doc, *keys):
    doc = json.loads(json.dumps(doc))
    target = doc
    for k in keys[:-1]:
        target = target[k]
    del target[keys[-1]]
    return doc


_BAD = {
    "not JSON": ("{\"protected\": {", "not a JSON file"),
    "missing payload": (_without(_good_file(), "payload"), r"missing key\(s\) payload"),
    "missing values": (_without(_good_file(), "payload", "values"), r"missing key\(s\) payload.values"),
    "ragged values": (_good_file(values=((1, 2, 3, 4, 5, 6), (1, 2, 3, 4, 5))),
                      r"values\[1\] has 5 values but there are 6 sensors"),
    "value count vs sensors": (_good_file(sensors=[{"name": "ax", "units": "g"}] * 5),
                               r"values\[0\] has 6 values but there are 5 sensors"),
    "not numbers": (_good_file(values=((1, 2, 3, 4, 5, "six"),)), "not a number"),
    "accelerometer in m/s2": (_good_file(sensors=[{"name": n, "units": "m/s2"} for n in
                                                  ("ax", "ay", "az", "wx", "wy", "wz")]),
                              "sensor units ax in m/s2"),
    "unknown alg": ({**_good_file(), "protected": {"ver": "v1", "alg": "RS256"}}, "protected.alg"),
}


@pytest.mark.parametrize("fault", list(_BAD))
def test_bad_file_gets_an_error_naming_file_and_fault(tmp_path, fault):
    content, message = _BAD[fault]
    path = tmp_path / "idle.01.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DatasetError, match=rf"^'{re.escape(str(path))}': .*{message}"):
        import_dataset(tmp_path)


@pytest.mark.parametrize("change, message", [
    ({"interval_ms": 10}, "interval_ms is 10 but .*idle.01.json' has 20"),
    ({"sensors": [{"name": n, "units": "g"} for n in ("x", "y", "z", "wx", "wy", "wz")]},
     "sensors .* differ from those of .*idle.01.json"),
])
def test_files_that_disagree_are_rejected(tmp_path, change, message):
    (tmp_path / "idle.01.json").write_text(json.dumps(_good_file()))
    second = tmp_path / "wave.02.json"
    second.write_text(json.dumps(_good_file(**change)))
    with pytest.raises(DatasetError, match=rf"^'{re.escape(str(second))}': {message}"):
        import_dataset(tmp_path)


def test_foreign_files_take_the_label_from_the_name(tmp_path):
    (tmp_path / "wave.3f2a.json").write_text(json.dumps(_good_file()))
    (tmp_path / "idle.01.json").write_text(json.dumps(_good_file(values=((0, 0, 1, 0, 0, 0),) * 3)))
    ds = import_dataset(tmp_path)
    assert ds.class_names == ("idle", "wave")
    assert ds.labels.tolist() == [0, 1] and [len(r) for r in ds.recordings] == [3, 2]
    assert ds.subject_ids.tolist() == [0, 0] and ds.sides.tolist() == [0, 0]
    assert ds.sample_rate_hz == 50.0


def test_missing_and_broken_info_labels_and_empty_folders(tmp_path, motion):
    with pytest.raises(DatasetError, match="no Edge Impulse .json files"):
        import_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such file or folder"):
        import_dataset(tmp_path / "nowhere")
    export_dataset(subset(motion, (2, 9)), tmp_path / "ds")
    first = json.loads((tmp_path / "ds" / "info.labels").read_text())["files"][0]["path"]
    (tmp_path / "ds" / first).unlink()
    with pytest.raises(DatasetError, match=rf"{re.escape(pathlib.Path(first).name)}': file not found"):
        import_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "info.labels").write_text("{\"version\": 1")
    with pytest.raises(DatasetError, match=r"info.labels': not a valid info.labels"):
        import_dataset(tmp_path / "ds")


def test_export_refuses_what_edge_impulse_cannot_hold(motion, tmp_path):
    with pytest.raises(ValueError, match="cannot be an Edge Impulse file-name label"):
        export_dataset(dataclasses.replace(motion, class_names=("P.EN",) + motion.class_names[1:]), tmp_path)
    gappy = dataclasses.replace(motion, recordings=[r.copy() for r in motion.recordings])
    gappy.recordings[4][10, 2] = np.nan
    with pytest.raises(ValueError, match="recording 4 holds NaN"):
        export_dataset(gappy, tmp_path)


def test_cli_ei_export_and_import(tmp_path, capsys, exported):
    assert cli_main(["ei-import", str(exported[0])]) == 0
    out = capsys.readouterr().out
    assert "140 recordings, 10 subjects, 7 classes" in out and "50 Hz" in out
    assert cli_main(["ei-import", str(exported[0]), "--hmac-key", "k"]) == 2
    assert "not signed" in capsys.readouterr().err


# ---- the .eim and the official SDK ------------------------------------------------------------

@pytest.fixture(scope="module")
def eims(demo_run, tmp_path_factory):
    """Left- and right-wrist .eim files built from the demo model (copied, not written into it)."""
    folder = tmp_path_factory.mktemp("eim") / "model"
    folder.mkdir()
    for name in ("model_int8.tflite", "model_settings.json"):
        shutil.copy(demo_run[0] / name, folder / name)
    left = build_eim(folder / "model_int8.tflite")  # default: model.eim beside it
    right = build_eim(folder, folder / "right.eim", wrist="right")
    return folder, {"left": left, "right": right}


def _windows(motion, settings, side, n=25):
    """Raw test-subject windows of one arm (sensor units) and the same in the training frame."""
    rec = np.flatnonzero(np.isin(motion.subject_ids, DEFAULT_TEST_SUBJECTS) & (motion.sides == side))
    args = (motion.recordings, motion.labels, motion.subject_ids, settings.window_samples,
            settings.stride_samples)
    raw = window_recordings(*args, indices=rec).x
    frame = window_recordings(*args, sides=motion.sides, indices=rec).x
    pick = np.linspace(0, len(raw) - 1, n).astype(int)
    return raw[pick], frame[pick]


def test_eim_is_one_executable_file(eims):
    folder, paths = eims
    assert paths["left"] == folder / "model.eim"
    for path in paths.values():
        assert os.access(path, os.X_OK)
        assert path.read_bytes().startswith(b"#!/")
    info = subprocess.run([str(paths["right"]), "--print-info"], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["project"]["name"].endswith("right wrist")


def test_sdk_hello_describes_the_model(eims):
    folder, paths = eims
    _, settings = load_model_files(folder)
    runner = ei_impulse_runner()(str(paths["left"]))
    try:
        info = runner.init()
        params = info["model_parameters"]
        n_ch = len(settings.channel_names)
        assert params["sensor"] == 2  # EI_CLASSIFIER_SENSOR_ACCELEROMETER
        assert params["frequency"] == settings.sample_rate_hz
        assert params["interval_ms"] == pytest.approx(1000 / settings.sample_rate_hz)
        assert params["axis_count"] == n_ch
        assert params["input_features_count"] == settings.window_samples * n_ch
        assert params["labels"] == list(settings.labels)
        assert params["label_count"] == len(settings.labels)
        assert params["model_type"] == "classification"
        assert params["use_continuous_mode"] is False
        assert params["inferencing_engine"] == (2 if tflm_available() else 4)
        assert set(info["project"]) == {"id", "owner", "name", "deploy_version"}
        assert "features_shm" not in info and runner._input_shm is None  # the JSON path
    finally:
        runner.stop()


@pytest.mark.parametrize("wrist, side", [("left", 0), ("right", 1)])
def test_sdk_classifies_like_tflm(eims, motion, demo_model, wrist, side):
    folder, paths = eims
    _, settings = load_model_files(folder)
    raw, frame = _windows(motion, settings, side)
    expected, runtime = predict_int8(demo_model, quantize(settings.normalization.apply(frame),
                                                          settings.input_quant))
    logits = dequantize(expected, settings.output_quant).astype(np.float64)
    expected_p = np.exp(logits - logits.max(1, keepdims=True))
    expected_p /= expected_p.sum(1, keepdims=True)
    runner = ei_impulse_runner()(str(paths[wrist]))
    try:
        runner.init()
        got = []
        for window in raw:
            res = runner.classify(window.reshape(-1).tolist())  # s0c0, s0c1, ..., in g and rad/s
            got.append([res["result"]["classification"][lab] for lab in settings.labels])
            assert {"dsp", "classification", "anomaly"} <= set(res["timing"])
            assert res["info"].startswith("tflm" if runtime == "tflm" else "litert")
    finally:
        runner.stop()
    got = np.asarray(got)
    assert np.allclose(got.sum(1), 1.0, atol=1e-9) and np.all(got >= 0)
    assert np.array_equal(got.argmax(1), expected.argmax(1))
    assert np.allclose(got, expected_p, atol=1e-6)  # the SDK side dequantizes in float64
    assert len(set(got.argmax(1).tolist())) > 1  # real windows of several exercises


def test_sdk_gets_a_plain_error_for_a_wrong_length_and_stop_ends_the_process(eims):
    folder, paths = eims
    _, settings = load_model_files(folder)
    n = settings.window_samples * len(settings.channel_names)
    runner = ei_impulse_runner()(str(paths["left"]))
    runner.init()
    process = runner._runner
    with pytest.raises(Exception, match=rf"expected {n} \({settings.window_samples} samples x 6 "
                                        rf"channels .*\) but got {n - 1}"):
        runner.classify([0.0] * (n - 1))
    with pytest.raises(Exception, match="item 2 is 'x', not a finite number"):
        runner.classify([0.0, 1.0, "x"] + [0.0] * (n - 3))
    assert runner.classify([0.0] * n)["result"]["classification"]  # still serving after errors
    runner.stop()
    assert process.wait(timeout=10) == 0


def test_eim_exits_cleanly_on_sigterm_and_removes_its_socket(eims, tmp_path):
    sock = tmp_path / "runner.sock"
    process = subprocess.Popen([str(eims[1]["left"]), str(sock)])
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert process.poll() is None and time.monotonic() < deadline, "no socket appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not sock.exists()
    finally:
        process.kill()


def test_eim_frames_messages_split_across_and_joined_in_reads(eims, tmp_path):
    sock_path = tmp_path / "runner.sock"
    process = subprocess.Popen([str(eims[1]["left"]), str(sock_path)])
    try:
        deadline = time.monotonic() + 30
        while not sock_path.exists():
            assert process.poll() is None and time.monotonic() < deadline, "no socket appeared"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(sock_path))
            client.sendall(b'{"hello": 1, "id": 1')  # half a message ...
            time.sleep(0.2)
            client.sendall(b'}{"id": 2, "classify": "not {a} list"}')  # ... its end, then another
            data = b""
            while data.count(b"\0") < 2:
                chunk = client.recv(65536)
                assert chunk, "the runner closed the connection"
                data += chunk
        replies = [json.loads(part) for part in data.split(b"\0") if part.strip()]
        assert replies[0]["id"] == 1 and replies[0]["success"] is True
        assert replies[1] == {"id": 2, "success": False, "error": "'classify' must be a list of numbers"}
        assert process.wait(timeout=10) == 0  # the client went away: the runner ends
        assert not sock_path.exists()
    finally:
        process.kill()


def test_cli_eim(eims, tmp_path, capsys):
    folder, _ = eims
    out = tmp_path / "cli.eim"
    assert cli_main(["eim", str(folder), "-o", str(out), "--wrist", "right"]) == 0
    assert os.access(out, os.X_OK) and "right wrist" in capsys.readouterr().out
    assert cli_main(["eim", str(tmp_path / "missing")]) == 2
    assert "file not found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cannot go in a '#!' line"):
        build_eim(folder, tmp_path / "x.eim", interpreter="/opt/my python/bin/python3")
