"""A real, small motion anomaly detector for the kit-side tests (tests/test_anomaly_native.py,
tests/test_arduino_core.py): exported by tinymlkit.anomaly exactly as ``tinymlkit anomaly`` does,
only shorter trained (5 epochs): the tests check the C code against Python on its settings, not
its accuracy."""

from __future__ import annotations

import pathlib

#: Training epochs for the test model: enough for a working autoencoder, a few seconds on 2 cores.
TEST_EPOCHS = 5
#: The kit's windows (tinymlkit.anomaly.motion_anomaly_data's defaults at 50 Hz: 2 s, 1 s).
WINDOW_SAMPLES, STRIDE_SAMPLES = 100, 50


def export_small_anomaly_model(out_dir: str | pathlib.Path):
    """Fit the scaler and K-means (8 clusters), train and int8-quantize the autoencoder, choose both
    thresholds on the normal validation windows (1 % false alarms), and export the
    ``anomaly_inference`` files into ``out_dir``.

    Returns:
        ``(model_bytes, settings, data)``: the int8 ``.tflite`` bytes, the
        :class:`tinymlkit.model_settings.AnomalyModelSettings`, and the
        :class:`tinymlkit.anomaly.AnomalyData` (with the raw windows).
    """
    import tinymlkit as tk

    tk.setup(seed=0)
    from tinymlkit.anomaly import (MOTION_HELD_OUT_CLASSES, KMeansDetector, anomaly_settings,
                                   choose_threshold, export_anomaly_detector, fit_feature_scaler,
                                   int8_autoencoder_scores, motion_anomaly_data)
    from tinymlkit.datasets import load_motion
    from tinymlkit.models import build_autoencoder
    from tinymlkit.quantize import quantize_int8
    from tinymlkit.train import train_autoencoder

    data = motion_anomaly_data()
    scaler = fit_feature_scaler(data.train)
    z_train, z_val = scaler.apply(data.train), scaler.apply(data.val)
    kmeans = KMeansDetector(8).fit(z_train)
    model = build_autoencoder(data.train.shape[1])
    train_autoencoder(model, z_train, epochs=TEST_EPOCHS, progress=False)
    model_bytes = quantize_int8(model, z_train)
    ae_val = int8_autoencoder_scores(model_bytes, z_val)[0]
    normal = tuple(c for c in load_motion().class_names if c not in MOTION_HELD_OUT_CLASSES)
    settings = anomaly_settings(scaler, kmeans, model_bytes,
                                autoencoder_threshold=choose_threshold(ae_val).value,
                                kmeans_threshold=choose_threshold(kmeans.score(z_val)).value,
                                window_samples=WINDOW_SAMPLES, stride_samples=STRIDE_SAMPLES,
                                normal_classes=normal)
    export_anomaly_detector(out_dir, model_bytes, settings)
    return model_bytes, settings, data
