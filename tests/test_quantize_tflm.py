"""Stages 5-6: int8 PTQ, TFLM vs LiteRT parity, and the tensor arena."""

import numpy as np
import pytest

from tinymlkit import tflm
from tinymlkit.quantize import QuantParams, dequantize, litert_predict, model_io, quantize


def test_model_is_full_integer(demo_model):
    io_ = model_io(demo_model)
    assert io_.input_dtype == np.int8 and io_.output_dtype == np.int8
    assert io_.input_shape == (1, 100, 6) and io_.output_shape == (1, 7)
    assert io_.input_quant.scale > 0 and -128 <= io_.input_quant.zero_point <= 127


def test_tflm_matches_litert_reference_kernels(demo_model, test_windows_int8):
    x_q, _ = test_windows_int8
    out_tflm = tflm.tflm_predict(demo_model, x_q)
    out_ref = litert_predict(demo_model, x_q)
    assert out_tflm.shape == out_ref.shape == (len(x_q), 7)
    assert np.array_equal(out_tflm.argmax(1), out_ref.argmax(1))
    assert np.max(np.abs(out_tflm.astype(int) - out_ref.astype(int))) <= 1  # within one int8 step


def test_quantize_round_trip_within_half_a_step():
    qp = QuantParams(scale=0.05, zero_point=-3)
    x = np.linspace(-6, 6, 101, dtype=np.float32)
    back = dequantize(quantize(x, qp), qp)
    assert np.all(np.abs(back - x) <= qp.scale / 2 + 1e-6)
    assert quantize(np.array([1e6, -1e6]), qp).tolist() == [127, -128]  # saturates


def test_measured_arena_is_the_smallest_that_works(demo_model, test_windows_int8):
    arena = tflm.measure_arena(demo_model)
    assert arena.method == "tflm-minimal-search"
    assert arena.arena_bytes % tflm.ARENA_ALIGNMENT_BYTES == 0
    # the recording counts tensors and TFLM's bookkeeping, not the interpreter's own objects,
    # so the smallest arena that works is at least the recorded total
    assert arena.recorded_bytes and arena.arena_bytes >= arena.recorded_bytes
    assert "TfLiteEvalTensor data" in arena.breakdown
    x_q = test_windows_int8[0][:5]
    tflm.tflm_predict(demo_model, x_q, arena_bytes=arena.arena_bytes)  # works
    with pytest.raises(RuntimeError, match="could not allocate"):
        tflm.tflm_predict(demo_model, x_q, arena_bytes=arena.arena_bytes - tflm.ARENA_ALIGNMENT_BYTES)


def test_fallback_without_tflm_estimates_and_says_so(demo_model, test_windows_int8, monkeypatch):
    real = tflm.measure_arena(demo_model)
    monkeypatch.setattr(tflm, "tflm_available", lambda: False)
    est = tflm.measure_arena(demo_model)
    assert est.method == "litert-estimate" and est.recorded_bytes is None
    assert "estimate" in est.note
    assert est.arena_bytes >= real.arena_bytes  # an upper bound, never an under-estimate
    out, runtime = tflm.predict_int8(demo_model, test_windows_int8[0][:10])
    assert runtime == "litert-reference" and out.shape == (10, 7)


def test_bad_inputs_are_explained(demo_model):
    with pytest.raises(ValueError, match="not a valid .tflite model"):
        tflm.measure_arena(b"this is not a model")
    with pytest.raises(ValueError, match=r"the model expects int8 \(n, 100, 6\)"):
        tflm.tflm_predict(demo_model, np.zeros((2, 50, 6), np.int8))


def test_arena_probe_tells_too_small_from_broken(demo_model, tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(demo_model)
    assert tflm._probe(model, 64 * 1024) is True
    assert tflm._probe(model, 64) is False  # far too small: TFLM errors out or crashes the child
    with pytest.raises(RuntimeError, match="arena probe failed"):
        tflm._probe(tmp_path / "missing.tflite", 64 * 1024)
