#!/usr/bin/env python3
"""Live motion classification on a Raspberry Pi (or any Linux laptop) from an IMU on a serial port.

The IMU is a kit running `imu_capture` over USB (hardware/PROTOCOL.md), or the simulated board.
Two runtimes, same windows, same preprocessing:

  --runtime litert  the exported int8 model (model_int8.tflite + model_settings.json) in LiteRT
                    (ai-edge-litert), the TensorFlow Lite runtime for Linux boards;
  --runtime ei      an Edge Impulse runner (.eim, made by `tinymlkit eim`) through the official
                    edge_impulse_linux SDK (ImpulseRunner), as an Edge Impulse deployment runs.

Examples:
  python motion_inference.py --port /dev/ttyACM0 --runtime litert --model build/demo
  python motion_inference.py --port /dev/ttyACM0 --runtime ei --eim build/demo/model.eim
Prints one line per window (stride from model_settings.json); --json prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from tinymlkit.capture import Board, BoardError
from tinymlkit.export import ModelFilesError, load_model_files
from tinymlkit.quantize import QuantParams, dequantize, quantize


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax of a ``(n_classes,)`` float array (shifted by the max for stability)."""
    e = np.exp(logits - logits.max())
    return e / e.sum()


class LiteRTClassifier:
    """The int8 model in one LiteRT interpreter, with the device's preprocessing."""

    def __init__(self, model: str, wrist: str):
        from ai_edge_litert.interpreter import Interpreter

        model_bytes, self.settings = load_model_files(model, kind="motion")
        s = self.settings
        self.signs = np.asarray(s.channel_signs if (wrist == "right" and s.channel_signs)
                                else (1,) * len(s.channel_names), dtype=np.float32)
        self.interpreter = Interpreter(model_content=model_bytes)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, window: np.ndarray) -> dict[str, float]:
        """``(window, channels)`` raw sensor values → ``{label: probability}``."""
        s = self.settings
        x = quantize(s.normalization.apply(window * self.signs)[None], s.input_quant)
        self.interpreter.set_tensor(self.input, x)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output)[0]
        probs = softmax(dequantize(out, QuantParams(s.output_quant.scale, s.output_quant.zero_point)))
        return dict(zip(s.labels, probs.tolist()))


class EdgeImpulseClassifier:
    """An ``.eim`` through the Edge Impulse Linux SDK's ImpulseRunner."""

    def __init__(self, eim: str):
        from edge_impulse_linux.runner import ImpulseRunner

        self.runner = ImpulseRunner(eim)
        info = self.runner.init()
        p = info["model_parameters"]
        self.window = p["input_features_count"] // p["axis_count"]
        self.stride = int(p.get("slice_size") or self.window)  # samples between windows
        self.labels = p["labels"]

    def __call__(self, window: np.ndarray) -> dict[str, float]:
        """``(window, channels)`` raw sensor values → ``{label: probability}``."""
        result = self.runner.classify(window.astype(np.float32).ravel().tolist())
        return result["result"]["classification"]

    def close(self) -> None:
        """Stop the runner process."""
        self.runner.stop()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, connect, classify windows until Ctrl-C or ``--windows``; exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", required=True, help="serial port of the IMU (kit or simulated board)")
    ap.add_argument("--runtime", choices=("litert", "ei"), default="litert")
    ap.add_argument("--model", help="exported model folder (litert)")
    ap.add_argument("--eim", help="Edge Impulse runner file (ei)")
    ap.add_argument("--wrist", choices=("left", "right"), default="left",
                    help="where the IMU is worn (litert; an .eim has it built in)")
    ap.add_argument("--windows", type=int, default=None, help="stop after N windows")
    ap.add_argument("--act", default=None, help="simulated board only: the activity to perform")
    ap.add_argument("--json", action="store_true", help="JSON lines instead of text")
    args = ap.parse_args(argv)
    try:
        if args.runtime == "litert":
            if not args.model:
                ap.error("--runtime litert needs --model FOLDER")
            clf = LiteRTClassifier(args.model, args.wrist)
            window, stride = clf.settings.window_samples, clf.settings.stride_samples
        else:
            if not args.eim:
                ap.error("--runtime ei needs --eim FILE (make one with: tinymlkit eim MODEL)")
            clf = EdgeImpulseClassifier(args.eim)
            window, stride = clf.window, clf.stride
        with Board(args.port) as board:
            if args.act:
                board.act(args.act)
            for counter, values in board.stream_windows(window, stride, args.windows):
                t0 = time.perf_counter()
                probs = clf(values)
                ms = 1000 * (time.perf_counter() - t0)
                label = max(probs, key=probs.get)
                if args.json:
                    print(json.dumps({"counter": counter, "label": label, "probabilities": probs,
                                      "ms": round(ms, 3)}), flush=True)
                else:
                    print(f"sample {counter:>7}: {label:<6} {probs[label]:6.1%}  ({ms:.1f} ms)", flush=True)
    except (BoardError, ModelFilesError) as exc:
        print(f"motion_inference: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if isinstance(locals().get("clf"), EdgeImpulseClassifier):
            clf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
