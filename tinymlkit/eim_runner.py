"""The program inside a ``.eim`` made by :func:`tinymlkit.edgeimpulse.build_eim`.

It speaks the Edge Impulse Linux runner protocol, the one the official SDK's
``edge_impulse_linux.runner.ImpulseRunner`` talks to a native ``.eim``: the runner starts
``MODEL.eim SOCKET_PATH``; this program listens on that Unix socket; each request is one JSON
object (``{"hello": 1, "id": n}``, ``{"classify": [...], "id": n}``) and each reply is one JSON
object followed by a NUL byte. Field names and codes follow Edge Impulse's own runner,
``source/eim.cpp`` in github.com/edgeimpulse/example-standalone-inferencing-linux, and the
constants of ``model-parameters/model_metadata.h`` in the Edge Impulse C++ SDK.

It runs as a stand-alone zipapp, so it imports only the standard library at the top; numpy and
an interpreter (``tflite_micro``, else ``ai_edge_litert``) are imported when the model loads. A
model that cannot load still answers ``hello``, with ``success: false`` and the reason, so the
SDK reports the fault instead of waiting for a socket that never appears.

Preprocessing is the device's, from ``model_settings.h``, per sample and channel ``c``:
``v = sign[c] * raw[c]`` (``channel_signs`` if the bundle was built for the right wrist, else 1);
``n = (v - mean[c]) / std[c]``; ``q = clamp(round(n / input_scale) + input_zero_point, -128, 127)``.
The output logits are dequantized (``scale * (q - zero_point)``) and the probabilities are their
softmax.
"""

from __future__ import annotations

import json
import math
import os
import pkgutil
import signal
import socket
import sys
import time

#: ``EI_CLASSIFIER_SENSOR_ACCELEROMETER`` (model_metadata.h, Edge Impulse C++ SDK).
SENSOR_ACCELEROMETER = 2
#: ``EI_CLASSIFIER_TFLITE`` (TensorFlow Lite for Microcontrollers) and ``EI_CLASSIFIER_TFLITE_FULL``
#: (full TensorFlow Lite, here LiteRT), the ``inferencing_engine`` codes of model_metadata.h.
ENGINE_TFLM, ENGINE_TFLITE_FULL = 2, 4

_RECV_BYTES = 65536


class _Stop(BaseException):
    """SIGINT or SIGTERM arrived: leave the serve loop and clean up."""


class _Model:
    """The bundled model and settings, with the interpreter that runs them."""

    def __init__(self, model_bytes: bytes, settings: dict):
        import numpy as np

        self.np = np
        self.s = settings
        self.n_channels = len(settings["channel_names"])
        self.window = int(settings["window_samples"])
        self.n_features = self.window * self.n_channels
        mirror = settings.get("wrist") == "right" and settings.get("channel_signs")
        self.signs = np.asarray(mirror or [1] * self.n_channels, np.float32)
        self.mean = np.asarray(settings["normalization"]["mean"], np.float32)
        self.std = np.asarray(settings["normalization"]["std"], np.float32)
        try:
            from tflite_micro.python.tflite_micro import runtime

            arena = -(-int(settings["arena_bytes"]) // 1024) * 1024  # kTensorArenaBytes
            self.tflm = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena)
            self.engine, self.runtime = ENGINE_TFLM, f"tflm (tflite-micro), {arena}-byte arena"
        except ImportError:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            self.tflm = None
            self.litert = Interpreter(model_content=model_bytes,
                                      experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
            self.litert.allocate_tensors()
            self.engine, self.runtime = ENGINE_TFLITE_FULL, "litert (reference kernels)"

    def invoke(self, q):
        """Run one int8 window ``(1, window, channels)``; returns the int8 outputs ``(labels,)``."""
        if self.tflm is not None:
            self.tflm.set_input(q, 0)
            self.tflm.invoke()
            return self.tflm.get_output(0)[0]
        self.litert.set_tensor(self.litert.get_input_details()[0]["index"], q)
        self.litert.invoke()
        return self.litert.get_tensor(self.litert.get_output_details()[0]["index"])[0]

    def classify(self, features: list) -> tuple[dict, dict]:
        """Raw interleaved features → ``({label: probability}, timing)``; ValueError on bad input."""
        np, s = self.np, self.s
        t0 = time.perf_counter()
        x = np.asarray(features, dtype=np.float32).reshape(self.window, self.n_channels)
        n = (self.signs * x - self.mean) / self.std
        q_in = s["input_quant"]
        q = np.clip(np.round(n / q_in["scale"]) + q_in["zero_point"], -128, 127).astype(np.int8)
        t1 = time.perf_counter()
        out = self.invoke(q[None])
        t2 = time.perf_counter()
        q_out = s["output_quant"]
        logits = q_out["scale"] * (out.astype(np.float64) - q_out["zero_point"])
        e = np.exp(logits - logits.max())
        probs = e / e.sum()
        dsp_us, nn_us = round((t1 - t0) * 1e6), round((t2 - t1) * 1e6)
        timing = {"dsp": dsp_us // 1000, "classification": nn_us // 1000, "anomaly": 0,
                  "dsp_us": dsp_us, "classification_us": nn_us}
        return {lab: float(p) for lab, p in zip(s["labels"], probs)}, timing


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def hello_response(settings: dict, engine: int) -> dict:
    """The ``model_parameters`` and ``project`` an Edge Impulse runner answers ``hello`` with.

    Args:
        settings: the content of ``model_settings.json``.
        engine: ``ENGINE_TFLM`` or ``ENGINE_TFLITE_FULL``.

    Returns:
        ``{"model_parameters": {...}, "project": {...}}``; ``frequency`` in Hz (an int when it is
        whole, as Edge Impulse writes it), ``interval_ms`` in ms, ``input_features_count`` =
        window samples × channels, ``slice_size`` = the stride in samples.
    """
    rate = float(settings["sample_rate_hz"])
    labels = list(settings["labels"])
    n_ch = len(settings["channel_names"])
    return {
        "model_parameters": {
            "sensor": SENSOR_ACCELEROMETER, "frequency": int(rate) if rate.is_integer() else rate,
            "interval_ms": 1000.0 / rate, "axis_count": n_ch,
            "input_features_count": int(settings["window_samples"]) * n_ch,
            "label_count": len(labels), "labels": labels, "model_type": "classification",
            "has_anomaly": 0, "slice_size": int(settings["stride_samples"]),
            "use_continuous_mode": False, "inferencing_engine": engine, "threshold": 0,
            "thresholds": [], "image_input_width": 0, "image_input_height": 0,
            "image_input_frames": 0, "image_channel_count": 0, "image_resize_mode": "none",
        },
        "project": {"id": 0, "owner": "TinyML Lab Kit", "deploy_version": 1,
                    "name": f"tinymlkit model, {settings.get('wrist', 'left')} wrist"},
    }


class _Server:
    """One client's session: ``hello`` first, then any number of ``classify``."""

    def __init__(self, settings: dict, model: _Model | None, load_error: str | None):
        self.settings, self.model, self.load_error = settings, model, load_error
        self.ready = False

    def handle(self, msg) -> dict:
        """Answer one request (a parsed JSON object): ``hello``, ``classify``, or an error reply
        ``{"id", "success": false, "error"}`` in plain words."""
        if not isinstance(msg, dict) or not isinstance(msg.get("id"), int):
            return {"success": False, "error": "Missing 'id' field in message"}
        mid = msg["id"]

        def fail(text):
            return {"id": mid, "success": False, "error": text}

        if "hello" in msg:
            if msg["hello"] != 1:
                return fail("Invalid value for 'hello', only 1 supported")
            if self.model is None:
                return fail(f"this .eim could not load its model: {self.load_error}")
            self.ready = True
            return {"id": mid, "success": True, **hello_response(self.settings, self.model.engine)}
        if not self.ready:
            return fail("Invalid message, send 'hello' first")
        if "classify" in msg:
            feats = msg["classify"]
            if not isinstance(feats, list):
                return fail("'classify' must be a list of numbers")
            bad = next((i for i, v in enumerate(feats) if not _number(v)), None)
            if bad is not None:
                return fail(f"'classify' item {bad} is {feats[bad]!r}, not a finite number")
            m = self.model
            if len(feats) != m.n_features:
                return fail(f"Invalid number of features in 'classify': expected {m.n_features} "
                            f"({m.window} samples x {m.n_channels} channels "
                            f"{','.join(self.settings['channel_names'])}, interleaved sample by "
                            f"sample, in sensor units) but got {len(feats)}")
            classification, timing = m.classify(feats)
            return {"id": mid, "success": True, "result": {"classification": classification},
                    "timing": timing, "info": m.runtime}
        return fail(f"Unsupported message (keys {sorted(msg)}); this .eim handles 'hello' and "
                    "'classify'")


def _split_messages(buf: bytes) -> tuple[list[bytes], bytes]:
    """Cut complete top-level JSON objects out of ``buf`` (brace depth outside strings)."""
    out, depth, start, in_str, esc = [], 0, 0, False, False
    for i, c in enumerate(buf):
        if in_str:  # inside a string, braces do not count
            if esc:
                esc = False
            elif c == 0x5C:  # backslash
                esc = True
            elif c == 0x22:  # closing quote
                in_str = False
        elif c == 0x22 and depth:
            in_str = True
        elif c == 0x7B:  # {
            start = i if depth == 0 else start
            depth += 1
        elif c == 0x7D and depth:  # }
            depth -= 1
            if depth == 0:
                out.append(buf[start:i + 1])
    rest = buf[start:] if depth else b""
    return out, rest


def _load_bundle() -> tuple[dict, _Model | None, str | None]:
    raw = pkgutil.get_data(__name__, "model_settings.json")
    settings = json.loads(raw)
    try:
        return settings, _Model(pkgutil.get_data(__name__, "model_int8.tflite"), settings), None
    except Exception as exc:  # reported to the client over the protocol
        return settings, None, (f"{type(exc).__name__}: {exc} (interpreter {sys.executable}; a "
                                ".eim needs numpy and tflite-micro or ai-edge-litert installed there)")


def _serve(path: str) -> int:
    def stop(signum, frame):
        raise _Stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:  # load the model first: the socket appears only when the runner can answer
        server = _Server(*_load_bundle())
    except _Stop:
        return 0
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn = None
    try:
        if os.path.exists(path):
            os.unlink(path)
        srv.bind(path)
        srv.listen(1)
        conn, _ = srv.accept()
        buf = b""
        while True:
            chunk = conn.recv(_RECV_BYTES)
            if not chunk:
                return 0  # the client closed the connection
            messages, buf = _split_messages(buf + chunk)
            for raw in messages:
                t0 = time.perf_counter()
                try:
                    msg = json.loads(raw)
                except ValueError as exc:
                    msg = exc
                json_ms = round((time.perf_counter() - t0) * 1000)
                if isinstance(msg, ValueError):
                    reply = {"success": False, "error": f"message is not valid JSON ({msg})"}
                else:
                    reply = server.handle(msg)
                if "timing" in reply:
                    reply["timing"].update(json=json_ms, stdin=0)
                conn.sendall(json.dumps(reply).encode("utf-8") + b"\n\x00")
    except _Stop:
        return 0
    finally:
        # a SIGTERM after the client hung up (the SDK's stop() closes, then signals) must not
        # interrupt the clean-up with a traceback and exit status 1
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if conn is not None:
            conn.close()
        srv.close()
        if os.path.exists(path):
            os.unlink(path)


def main(argv: list[str] | None = None) -> int:
    """``MODEL.eim SOCKET_PATH`` serves the runner protocol on that Unix socket until SIGINT or
    SIGTERM (or the client disconnects), then removes the socket; ``MODEL.eim --print-info``
    prints the ``hello`` reply. Returns the exit status (0, or 1 on a usage error)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: MODEL.eim SOCKET_PATH | --print-info  (Edge Impulse Linux runner protocol)",
              file=sys.stderr)
        return 1
    if argv[0] == "--print-info":
        settings, model, error = _load_bundle()
        reply = _Server(settings, model, error).handle({"hello": 1, "id": 1})
        print(json.dumps(reply, indent=2))
        return 0 if reply["success"] else 1
    try:
        return _serve(argv[0])
    except _Stop:  # stopped in the instant between serving and the clean-up's signal guard
        return 0
