"""Keyword spotting, model to kit: the DS-CNN trains, converts to int8 within the kit budgets
(≤ 18 KB model, ≤ 10 KB tensor arena, TFLM int8 ops only), TFLM and LiteRT agree on it; the
evaluation helpers give known answers on hand-made cases; KeywordModelSettings round-trips through
the exported files and its model_settings.h compiles with the TinyMLKit library."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from tinymlkit.export import (MICRO_SPEECH_FEATURE_SCALE, KeywordModelSettings, ModelFilesError,
                              ModelSettings, check_op_resolver, frontend_to_int8, load_model_files,
                              keyword_settings_header, parse_c_array, write_model_files)
from tinymlkit.features import FrontendSettings, Normalization
from tinymlkit.models import MICRO_SPEECH_TINY_CONV_BYTES, build_ds_cnn, count_parameters
from tinymlkit.quantize import QuantParams, litert_interpreter, litert_predict, model_io, quantize, quantize_int8
from tinymlkit.kws_runtime import detect_keywords, logits_to_scores, probabilities_to_scores
from tinymlkit.report import FaFrCurve, accuracy_by_group, fa_fr_curve
from tinymlkit.tflm import measure_arena, model_ops, tflm_available, tflm_predict
from tinymlkit.train import train_classifier

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIB_SRC = ROOT / "hardware" / "libraries" / "TinyMLKit" / "src"
#: The budgets (brief of issue #5): micro_speech's tiny_conv is 18,712 B; its arena 10 KB.
MODEL_BUDGET_BYTES = 18 * 1024
ARENA_BUDGET_BYTES = 10 * 1024
#: int8 ops TFLM implements that the DS-CNN may use (tflite-micro's micro_mutable_op_resolver.h).
TFLM_OPS = {"EXPAND_DIMS", "CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "RESHAPE"}
LABELS = ("_silence_", "_unknown_", "yes", "no", "up", "down")
N_CLASSES = len(LABELS)


def _features(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable stand-ins for audio features: (n, 49, 40) float32 in 0..26 (micro_speech's range
    of frontend × 10/256), class c lifting channels 6c..6c+5 over a random stretch of frames."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    x = rng.uniform(0, 10, (n, 49, 40)).astype(np.float32)
    for i, c in enumerate(y):
        start = int(rng.integers(0, 25))
        x[i, start:start + 24, 6 * c:6 * c + 6] += 14
    return np.clip(x, 0, 26).astype(np.float32), y


@pytest.fixture(scope="module")
def trained():
    """The default DS-CNN trained for a few epochs; its int8 .tflite and TFLM arena."""
    x, y = _features(480, seed=1)
    model = build_ds_cnn(N_CLASSES)
    # 300 steps: enough for batch norm's moving statistics (momentum 0.99) to settle.
    result = train_classifier(model, x, y, epochs=10, batch_size=16, learning_rate=5e-3,
                              progress=False)
    tflite = quantize_int8(result.model, x, n_samples=200)
    return result, tflite, measure_arena(tflite), (x, y)


def test_ds_cnn_trains_and_fits_the_kit_budgets(trained):
    result, tflite, arena, (x, y) = trained
    model = result.model
    ops = model_ops(tflite)
    print(f"\nDS-CNN default: {count_parameters(model):,} parameters, int8 .tflite {len(tflite):,} B "
          f"(budget {MODEL_BUDGET_BYTES:,}; tiny_conv {MICRO_SPEECH_TINY_CONV_BYTES:,}), "
          f"arena {arena.arena_bytes:,} B ({arena.method}; budget {ARENA_BUDGET_BYTES:,}), ops {ops}; "
          f"train accuracy {result.history['accuracy'][-1]:.2f} after {result.seconds:.1f} s")
    assert model.input_shape == (None, 49, 40) and model.output_shape == (None, N_CLASSES)
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.history["accuracy"][-1] > 0.6  # chance is 1/6
    assert len(tflite) <= MODEL_BUDGET_BYTES
    assert arena.arena_bytes <= ARENA_BUDGET_BYTES
    assert set(ops) <= TFLM_OPS and "CONV_2D" in ops and "DEPTHWISE_CONV_2D" in ops
    assert ops == list(dict.fromkeys(op["op_name"] for op in litert_interpreter(tflite)._get_ops_details()))

    io_ = model_io(tflite)
    assert io_.input_shape == (1, 49, 40) and io_.output_shape == (1, N_CLASSES)
    assert io_.input_dtype == np.int8 and io_.output_dtype == np.int8


def test_the_kws_runtime_registers_every_op_of_the_ds_cnn(trained):
    """tmk_kws_runtime.h's resolver covers the DS-CNN (else AllocateTensors fails on the kit)."""
    assert check_op_resolver(trained[1], LIB_SRC / "tmk_kws_runtime.h") == []


def test_ds_cnn_is_seeded_and_checks_its_arguments():
    a, b = build_ds_cnn(4, seed=3), build_ds_cnn(4, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    c = build_ds_cnn(4, seed=4)
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))
    assert build_ds_cnn(12, input_shape=(49, 40), n_ds_blocks=4).output_shape == (None, 12)
    with pytest.raises(ValueError, match="n_classes must be positive"):
        build_ds_cnn(0)
    with pytest.raises(ValueError, match="n_strided_blocks"):
        build_ds_cnn(4, n_ds_blocks=1, n_strided_blocks=2)
    with pytest.raises(ValueError, match="smaller than the first kernel"):
        build_ds_cnn(4, input_shape=(8, 40))


def test_tflm_and_litert_agree_on_the_int8_model(trained):
    result, tflite, arena, (x, y) = trained
    io_ = model_io(tflite)
    x_test, y_test = _features(96, seed=2)
    x_q = quantize(x_test, io_.input_quant)
    ref = litert_predict(tflite, x_q)
    if not tflm_available():
        pytest.skip("tflite-micro is only available on Linux x86_64")
    out = tflm_predict(tflite, x_q, arena_bytes=arena.arena_bytes)
    diff = np.abs(out.astype(int) - ref.astype(int))
    print(f"\nTFLM vs LiteRT on {len(x_q)} inputs: max |difference| {diff.max()} int8 steps, "
          f"{int(np.sum(out != ref))} of {out.size} outputs differ; int8 accuracy "
          f"{np.mean(out.argmax(1) == y_test):.2f}")
    assert diff.max() <= 1 and np.array_equal(out.argmax(1), ref.argmax(1))
    assert np.mean(out.argmax(1) == y_test) > 0.5
    # The kit feeds frontend × 10/256 quantized by tmk::FeaturesToInt8; on whole frontend values
    # that is exactly quantize() of the float features.
    frontend = np.rint(x_test[:8] / MICRO_SPEECH_FEATURE_SCALE).astype(np.uint16)
    assert np.array_equal(frontend_to_int8(frontend, MICRO_SPEECH_FEATURE_SCALE, io_.input_quant),
                          quantize(frontend.astype(np.float32) * np.float32(MICRO_SPEECH_FEATURE_SCALE),
                                   io_.input_quant))


# --- evaluation ------------------------------------------------------------------------------

def test_accuracy_by_group_on_a_hand_made_case():
    y_true = [2, 2, 3, 3, 4, 4, 4, 0]
    y_pred = [2, 3, 3, 3, 4, 0, 0, 0]
    speakers = ["ann", "ann", "bob", "bob", "cy", "cy", "cy", "ann"]
    acc = accuracy_by_group(y_true, y_pred, speakers)
    assert acc == {"ann": 2 / 3, "bob": 1.0, "cy": 1 / 3}
    assert list(acc) == ["ann", "bob", "cy"]
    assert acc.counts == {"ann": 3, "bob": 2, "cy": 3} and acc.correct == {"ann": 2, "bob": 2, "cy": 1}
    assert acc.worst() == ("cy", 1 / 3)
    by_accent = accuracy_by_group(y_true, y_pred, np.array([7, 7, 7, 7, 9, 9, 9, 9]))
    assert by_accent == {"7": 0.75, "9": 0.5}
    with pytest.raises(ValueError, match="mix types"):
        accuracy_by_group([1, 1], [1, 1], np.array([1, "1"], dtype=object))
    with pytest.raises(ValueError, match="one length"):
        accuracy_by_group([1, 1], [1], ["a", "a"])


def test_fa_fr_curve_on_a_hand_made_case():
    # Classes: 0 silence, 1 unknown, 2 "yes", 3 "no". Probabilities per clip:
    p = np.array([
        [0.10, 0.00, 0.90, 0.00],  # yes clip: top yes 0.9
        [0.30, 0.00, 0.60, 0.10],  # yes clip: top yes 0.6
        [0.00, 0.20, 0.00, 0.80],  # yes clip: top "no" 0.8 -> wrong keyword
        [0.10, 0.10, 0.10, 0.70],  # no clip: top no 0.7
        [0.70, 0.00, 0.30, 0.00],  # silence clip: top silence -> never accepted
        [0.00, 0.35, 0.65, 0.00],  # unknown clip: top yes 0.65 -> false accept for t <= 0.65
        [0.40, 0.00, 0.00, 0.60],  # silence clip: top no 0.6 -> false accept for t <= 0.6
    ])
    y = np.array([2, 2, 2, 3, 0, 1, 0])
    curve = fa_fr_curve(p, y, keyword_classes=[2, 3], thresholds=[0.0, 0.6, 0.62, 0.7, 0.95])
    assert isinstance(curve, FaFrCurve) and (curve.n_keyword_clips, curve.n_non_keyword_clips) == (4, 3)
    # FA over the 3 non-keyword clips; FR over the 4 keyword clips.
    assert np.allclose(curve.false_accept_rate, [2 / 3, 2 / 3, 1 / 3, 0, 0])
    assert np.allclose(curve.false_reject_rate, [1 / 4, 1 / 4, 2 / 4, 2 / 4, 1.0])
    assert np.allclose(curve.wrong_keyword_rate, [1 / 4, 1 / 4, 1 / 4, 1 / 4, 0])
    # FA - FR: 5/12, 5/12, -1/6: the curves cross between t = 0.6 and 0.62.
    a = (5 / 12) / (5 / 12 + 1 / 6)
    assert curve.eer == pytest.approx(2 / 3 + a * (1 / 3 - 2 / 3))
    assert curve.eer == pytest.approx(1 / 4 + a * (2 / 4 - 1 / 4))
    assert curve.eer_threshold == pytest.approx(0.6 + a * 0.02)
    assert curve.at(0.65) == (pytest.approx(1 / 3), pytest.approx(0.5))
    # Counting a wrong keyword as a false accept too: over all 7 clips.
    strict = fa_fr_curve(p, y, [2, 3], thresholds=[0.0, 0.7, 0.95], wrong_keyword_is_false_accept=True)
    assert np.allclose(strict.false_accept_rate, [3 / 7, 1 / 7, 0])
    assert np.allclose(strict.false_reject_rate, [1 / 4, 2 / 4, 1])


def test_fa_fr_curve_is_the_roc_curve_of_correct_detections():
    """Default thresholds: every operating point; FA and 1 - FR equal sklearn's roc_curve."""
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (600, 6))
    y = rng.integers(0, 6, 600)
    logits[np.arange(600), y] += rng.uniform(0, 4, 600)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    keywords = [2, 3, 4, 5]
    curve = fa_fr_curve(p, y, keywords)
    assert curve.thresholds[0] == 0 and curve.thresholds[-1] > 1
    assert curve.false_accept_rate[-1] == 0 and curve.false_reject_rate[-1] == 1
    assert np.all(np.diff(curve.false_accept_rate) <= 0) and np.all(np.diff(curve.false_reject_rate) >= 0)
    top = p.argmax(1)
    is_kw = np.isin(y, keywords)
    score = np.where(is_kw, np.where(top == y, p[np.arange(600), y], -1.0),
                     np.where(np.isin(top, keywords), p[np.arange(600), top], -1.0))
    fpr, tpr, thr = roc_curve(is_kw.astype(int), score, drop_intermediate=False)
    for f, t, th in zip(fpr, tpr, thr):
        if 0 <= th <= 1:
            fa, fr = curve.at(th)
            assert (fa, fr) == (pytest.approx(f), pytest.approx(1 - t))
    assert 0 < curve.eer < 0.5
    with pytest.raises(ValueError, match="non-keyword clips"):
        fa_fr_curve(p[is_kw], y[is_kw], keywords)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fa_fr_curve(logits, y, keywords)


def test_scores_and_streaming_detection_from_model_outputs():
    qp = QuantParams(0.2, 0)
    logits = np.array([[10, 0, -5], [0, 0, 0]], np.int8)  # 2.0, 0, -1.0 and all equal
    scores = logits_to_scores(logits, qp)
    soft = np.exp([2.0, 0, -1.0]) / np.exp([2.0, 0, -1.0]).sum()
    assert np.array_equal(scores[0], np.round(soft * 256).astype(np.uint8))  # 216, 29, 11
    assert np.array_equal(scores[1], [85, 85, 85])
    assert np.array_equal(probabilities_to_scores([0.0, 0.5, 0.999, 1.0]), [0, 128, 255, 255])
    # One second of "yes" (class 2) in four seconds of silence, a result every 40 ms.
    stream = np.tile(np.array([[250, 3, 3]], np.uint8), (100, 1))
    stream[40:65] = [5, 5, 245]
    found = detect_keywords(stream, 40, labels=["_silence_", "x", "yes"], silence_index=0,
                            start_ms=990)
    assert [(d.label, d.index) for d in found] == [("yes", 2)]
    assert 990 + 40 * 40 < found[0].time_ms < 990 + 65 * 40 and found[0].score >= 200
    with pytest.raises(ValueError, match="output_quant"):
        detect_keywords(stream.astype(np.int8), 40)


# --- export ----------------------------------------------------------------------------------

def _settings(io_, arena_bytes: int, **kw) -> KeywordModelSettings:
    return KeywordModelSettings(labels=LABELS, input_quant=io_.input_quant,
                                output_quant=io_.output_quant, arena_bytes=arena_bytes,
                                silence_index=0, unknown_index=1, **kw)


def test_keyword_settings_round_trip_through_the_exported_files(trained, tmp_path):
    _, tflite, arena, _ = trained
    settings = _settings(model_io(tflite), arena.arena_bytes, detection_threshold=190,
                         invoke_every_slices=3)
    paths = write_model_files(tmp_path, tflite, settings)
    assert json.loads(paths["json"].read_text())["kind"] == "keyword"
    model_bytes, back = load_model_files(tmp_path)
    assert model_bytes == tflite and isinstance(back, KeywordModelSettings) and back == settings
    assert parse_c_array(paths["source"].read_text()) == tflite
    assert settings.input_shape == (49, 40) and settings.keyword_indexes == (2, 3, 4, 5)
    assert (settings.window_samples, settings.stride_samples) == (480, 320)
    header = paths["settings"].read_text()
    for line in ("constexpr int kFeatureSliceSize = 40;", "constexpr int kFeatureSliceCount = 49;",
                 "constexpr int kFeatureSliceStrideMs = 20;", "constexpr int kFeatureSliceDurationMs = 30;",
                 "constexpr float kFeatureScale = 0.0390625f;", "constexpr int kSilenceIndex = 0;",
                 "constexpr int kUnknownIndex = 1;", "constexpr int kDetectionThreshold = 190;",
                 "constexpr int kInvokeEverySlices = 3;",
                 'constexpr const char* kCategoryLabels[kCategoryCount] = {"_silence_", "_unknown_", "yes", "no", "up", "down"};'):
        assert line in header
    # A corrupt kind is refused; a motion export (no "kind") still loads as ModelSettings.
    d = json.loads(paths["json"].read_text())
    d["kind"] = "vision"
    paths["json"].write_text(json.dumps(d))
    with pytest.raises(ModelFilesError, match="unknown kind 'vision'"):
        load_model_files(tmp_path)
    motion = ModelSettings(labels=("A", "B"), channel_names=("ax", "ay"), window_samples=10,
                           stride_samples=5, sample_rate_hz=50.0, input_quant=QuantParams(0.1, 0),
                           output_quant=QuantParams(0.2, 1),
                           normalization=Normalization(np.zeros(2, np.float32), np.ones(2, np.float32)),
                           arena_bytes=2000)
    write_model_files(tmp_path / "motion", tflite, motion)
    assert "kind" not in json.loads((tmp_path / "motion" / "model_settings.json").read_text())
    assert isinstance(load_model_files(tmp_path / "motion")[1], ModelSettings)
    with pytest.raises(TypeError, match="KeywordModelSettings, ImageModelSettings or AnomalyModelSettings"):
        write_model_files(tmp_path / "x", tflite, {"labels": LABELS})


def test_an_export_written_before_the_frontend_was_one_object_still_loads():
    """model_settings.json of a keyword export made before issue #14 (the frontend's settings as
    top-level keys, no clip_ms) loads into the same settings, and is written back with the same
    keys (plus clip_ms)."""
    old = {"kind": "keyword", "labels": list(LABELS), "input_quant": {"scale": 0.1, "zero_point": -128},
           "output_quant": {"scale": 0.05, "zero_point": 3}, "arena_bytes": 21000,
           "arena_method": "tflm-minimal-search", "sample_rate_hz": 16000, "window_ms": 30,
           "stride_ms": 20, "n_channels": 40, "n_frames": 49, "lower_band_hz": 125.0,
           "upper_band_hz": 4000.0, "feature_scale": 0.0390625, "smoothing_bits": 10,
           "even_smoothing": 0.025, "odd_smoothing": 0.06, "min_signal_remaining": 0.05,
           "pcan_enable": False, "pcan_strength": 0.95, "pcan_offset": 80.0, "pcan_gain_bits": 21,
           "log_scale_enable": True, "log_scale_shift": 6, "silence_index": 0, "unknown_index": 1,
           "average_window_ms": 300, "detection_threshold": 128, "suppression_ms": 1500,
           "minimum_count": 3, "invoke_every_slices": 2}
    s = KeywordModelSettings.from_dict(old)
    assert s.frontend == FrontendSettings(upper_band_hz=4000.0, enable_pcan=False)
    assert (s.sample_rate_hz, s.window_ms, s.stride_ms, s.n_channels) == (16000, 30, 20, 40)
    assert s.to_dict() == old | {"clip_ms": 1000}
    assert KeywordModelSettings.from_dict(s.to_dict()) == s
    header = keyword_settings_header(s)
    assert "constexpr int kFrontendPcanEnable = 0;" in header
    assert "constexpr float kFrontendUpperBandHz = 4000.0f;" in header


def test_keyword_settings_are_validated():
    q = QuantParams(0.1, 0)
    for kw, match in [(dict(labels=("yes no",)), "no blanks"), (dict(labels=tuple("abcdefghijklmnopq")), "1 to 16"),
                      (dict(silence_index=6), "silence_index=6"), (dict(detection_threshold=256), "0..255"),
                      (dict(invoke_every_slices=0), "invoke_every_slices"), (dict(labels=("a=b",)), "no blanks, '='")]:
        args = dict(labels=LABELS, input_quant=q, output_quant=q, arena_bytes=1000) | kw
        with pytest.raises(ValueError, match=match):
            KeywordModelSettings(**args)
    with pytest.raises(TypeError, match="frontend must be a tinymlkit.features.FrontendSettings"):
        KeywordModelSettings(labels=LABELS, input_quant=q, output_quant=q, arena_bytes=1000,
                             frontend={"upper_band_hz": 4000.0})
    # The frontend is one object, checked in one place: an export's JSON with a bad frontend fails
    # there, with FrontendSettings' message.
    good = KeywordModelSettings(labels=LABELS, input_quant=q, output_quant=q, arena_bytes=1000).to_dict()
    for change, match in [(dict(sample_rate_hz=22050), "window_ms = 30 ms at 22050 Hz is 661.5 samples"),
                          (dict(upper_band_hz=9000.0), "filterbank band 125-9000 Hz.*Nyquist"),
                          (dict(upper_band_hz=8000.0), "Nyquist"), (dict(pcan_fnord=1), "unknown fields")]:
        with pytest.raises(ValueError, match=match):
            KeywordModelSettings.from_dict(good | change)
    with pytest.raises(ValueError, match="not 'keyword'"):
        KeywordModelSettings.from_dict({"labels": ["a"]})


def test_exported_header_compiles_with_the_library_and_computes_like_python(trained, tmp_path):
    """model_settings.h + model_data.cc + TinyMLKit build with g++ -Werror into a program that
    sets up tmk::KwsModel from the constants (as kws_inference does) and turns frontend values
    and logits into int8 inputs and scores equal to Python's."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed (scripts/system_deps.sh installs it)")
    _, tflite, arena, _ = trained
    io_ = model_io(tflite)
    settings = _settings(io_, arena.arena_bytes)
    write_model_files(tmp_path, tflite, settings)
    check = tmp_path / "kws_check.cc"
    check.write_text(f"""#include <stdio.h>
#include "model_data.h"
#include "model_settings.h"
#include "TinyMLKit.h"
static_assert(kIsKeywordModel, "keyword settings");
static_assert(kFeatureSliceSize == 40 && kFeatureSliceCount == 49, "49 x 40 features");
static_assert(kFeatureSliceStrideMs == 20 && kFeatureSliceDurationMs == 30, "micro_speech timing");
static_assert(kFeatureSliceSamples == 480 && kFeatureSliceStrideSamples == 320, "samples");
static_assert(kCategoryCount == {N_CLASSES} && kSilenceIndex == 0 && kUnknownIndex == 1, "labels");
static_assert(kCategoryCount <= tmk::KeywordRecognizer::kMaxCategories, "recognizer storage");
static_assert(kTensorArenaBytes % 1024 == 0 && kTensorArenaBytes >= {arena.arena_bytes}, "arena");
static_assert(kInputZeroPoint == {io_.input_quant.zero_point}, "input zero point");
static_assert(kScoreExpTable[0] == 65535, "exp table");
int8_t g_window[kFeatureElementCount], g_input[kFeatureElementCount], g_output[kCategoryCount];
bool stand_in_invoke(void*, uint32_t* us) {{ *us = 0; return g_model_data_size > 0; }}
void write_stdout(void*, const char* data, size_t len) {{ fwrite(data, 1, len, stdout); }}
int main() {{
  const tmk::KwsModel model{{kAudioSampleRateHz, kFeatureSliceSamples, kFeatureSliceStrideSamples,
      kFeatureSliceDurationMs, kFeatureSliceStrideMs, kFeatureSliceSize, kFeatureSliceCount,
      kFeatureScale, tmk::QuantParams{{kInputScale, kInputZeroPoint}},
      tmk::QuantParams{{kOutputScale, kOutputZeroPoint}}, kCategoryLabels, kCategoryCount,
      kScoreExpTable, tmk::KeywordRecognizerConfig{{kCategoryCount, kAverageWindowMs,
      kDetectionThreshold, kSuppressionMs, kMinimumCount, kSilenceIndex, kUnknownIndex}},
      kInvokeEverySlices, g_window, g_input, g_output, stand_in_invoke, nullptr}};
  static tmk::KwsApp app;
  if (!app.begin("host_test", write_stdout, nullptr, model)) return 3;
  uint16_t frontend[kFeatureSliceSize];
  int8_t q[kFeatureSliceSize];
  for (int i = 0; i < kFeatureSliceSize; ++i) {{ unsigned v; if (scanf("%u", &v) != 1) return 4; frontend[i] = (uint16_t)v; }}
  tmk::FeaturesToInt8(frontend, kFeatureSliceSize, kFeatureScale, kInputScale, kInputZeroPoint, q);
  for (int i = 0; i < kFeatureSliceSize; ++i) printf("%d ", q[i]);
  printf("\\n");
  int8_t logits[kCategoryCount];
  uint8_t scores[kCategoryCount];
  for (int i = 0; i < kCategoryCount; ++i) {{ int v; if (scanf("%d", &v) != 1) return 5; logits[i] = (int8_t)v; }}
  tmk::LogitsToScores(logits, kCategoryCount, kScoreExpTable, scores);
  for (int i = 0; i < kCategoryCount; ++i) printf("%u ", scores[i]);
  printf("\\n");
  return 0;
}}
""")
    exe = tmp_path / "kws_check"
    sources = [check, tmp_path / "model_data.cc", *sorted(LIB_SRC.glob("*.cpp"))]
    proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}",
                           f"-I{LIB_SRC}", *map(str, sources), "-o", str(exe)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rng = np.random.default_rng(9)
    frontend = rng.integers(0, 800, 40)
    logits = rng.integers(-128, 128, N_CLASSES).astype(np.int8)
    stdin = " ".join(map(str, frontend)) + "\n" + " ".join(map(str, logits)) + "\n"
    proc = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    q_line, s_line = proc.stdout.splitlines()
    assert [int(v) for v in q_line.split()] == frontend_to_int8(frontend, settings.feature_scale,
                                                                settings.input_quant).tolist()
    assert [int(v) for v in s_line.split()] == logits_to_scores(logits, settings.output_quant).tolist()
