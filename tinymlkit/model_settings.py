"""Stage 7a — model settings: what a sketch needs besides the model bytes, as data.

:class:`ModelSettings` (a motion model: window, channels, normalisation, quantization, arena) and
:class:`KeywordModelSettings` (a keyword model: the microfrontend, quantization, detection),
:class:`ImageModelSettings` (an image classifier: input size, crop and shrink, quantization), the
``model_settings.json`` schema of both, and the numbers the kit's keyword runtime computes with
(:func:`score_exp_table`, :func:`frontend_to_int8`). :mod:`tinymlkit.export` turns them into
``model_settings.h`` and model folders.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .features import FrontendSettings, Normalization
from .labels import check_label
from .quantize import QuantParams, quantize

__all__ = ["AnomalyModelSettings", "FRONTEND_JSON_KEYS", "ImageModelSettings", "KeywordModelSettings", "MAX_KEYWORD_CLASSES", "MAX_KEYWORD_RESULTS",
           "MICRO_SPEECH_FEATURE_SCALE", "ModelSettings", "SCORE_EXP_ONE", "frontend_to_int8",
           "score_exp_table", "sketch_arena_bytes"]


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """Everything a sketch needs besides the model bytes, written to ``model_settings.h``.

    Attributes:
        labels: class names in output order.
        channel_names: input channels in order, e.g. ``("ax", ..., "wz")``.
        window_samples, stride_samples: window length and hop, in samples.
        sample_rate_hz: sensor rate in Hz.
        input_quant, output_quant: scale and zero point of the int8 input and output tensors.
        normalization: per-channel mean and std fitted on training data.
        arena_bytes: tensor arena to reserve, in bytes.
        arena_method: how ``arena_bytes`` was obtained (``ArenaReport.method`` from
            :mod:`tinymlkit.tflm`: ``"tflm-minimal-search"`` or ``"litert-estimate"``).
        channel_signs: per-channel signs a board worn on the RIGHT wrist applies before
            normalising (the wrist mirror into the left-wrist training frame); a left-wrist board
            uses 1 for every channel. None: all 1.
    """

    labels: tuple[str, ...]
    channel_names: tuple[str, ...]
    window_samples: int
    stride_samples: int
    sample_rate_hz: float
    input_quant: QuantParams
    output_quant: QuantParams
    normalization: Normalization
    arena_bytes: int
    arena_method: str = "tflm-minimal-search"
    channel_signs: tuple[int, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, int]:
        """``(window_samples, n_channels)``."""
        return (self.window_samples, len(self.channel_names))

    def to_dict(self) -> dict:
        """Plain JSON-able dict (the content of ``model_settings.json``)."""
        d = dataclasses.asdict(self)
        d["normalization"] = self.normalization.to_dict()
        d["labels"], d["channel_names"] = list(self.labels), list(self.channel_names)
        d["channel_signs"] = list(self.channel_signs) if self.channel_signs else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSettings":
        """Inverse of :meth:`to_dict`.

        Raises:
            KeyError, TypeError, ValueError: a field is missing or has the wrong type.
        """
        return cls(labels=tuple(d["labels"]), channel_names=tuple(d["channel_names"]),
                   window_samples=int(d["window_samples"]), stride_samples=int(d["stride_samples"]),
                   sample_rate_hz=float(d["sample_rate_hz"]),
                   input_quant=QuantParams(float(d["input_quant"]["scale"]),
                                           int(d["input_quant"]["zero_point"])),
                   output_quant=QuantParams(float(d["output_quant"]["scale"]),
                                            int(d["output_quant"]["zero_point"])),
                   normalization=Normalization(
                       mean=np.asarray(d["normalization"]["mean"], dtype=np.float32),
                       std=np.asarray(d["normalization"]["std"], dtype=np.float32)),
                   arena_bytes=int(d["arena_bytes"]), arena_method=str(d["arena_method"]),
                   channel_signs=(tuple(int(v) for v in d["channel_signs"])
                                  if d.get("channel_signs") else None))


def sketch_arena_bytes(arena_bytes: int) -> int:
    """The tensor arena a sketch allocates for a model that needs ``arena_bytes``: rounded up to
    whole KB, as ``kTensorArenaBytes`` in ``model_settings.h``. The one value for the headers and
    the fit report (``tinymlkit.report.fit_report``), so both count the same RAM.

    Args:
        arena_bytes: the measured tensor arena (``tinymlkit.tflm.measure_arena``), bytes.

    Returns:
        Bytes, a multiple of 1024.

    Raises:
        ValueError: ``arena_bytes`` is negative.
    """
    if int(arena_bytes) < 0:
        raise ValueError(f"arena_bytes {arena_bytes}: a size in bytes cannot be negative")
    return -(-int(arena_bytes) // 1024) * 1024



#: micro_speech's scaling of the TFLM audio frontend's uint16 output to the float features a
#: model is trained on: ``feature = frontend * 10 / 256`` ("divided by 25.6", tflite-micro
#: tensorflow/lite/micro/examples/micro_speech/micro_features/micro_features_generator.cc and
#: tensorflow/examples/speech_commands/input_data.py). Exact in float32 (5 / 128).
MICRO_SPEECH_FEATURE_SCALE = 10.0 / 256.0
#: Most classes tmk::KeywordRecognizer handles (its fixed storage, tmk_kws.h kMaxCategories).
MAX_KEYWORD_CLASSES = 16
#: Results tmk::KeywordRecognizer keeps for averaging (tmk_kws.h kMaxResults); the oldest is
#: dropped when a new one arrives and all are in use.
MAX_KEYWORD_RESULTS = 64
#: Fixed-point scale of :func:`score_exp_table`: ``table[0] = 65535`` (uint16).
SCORE_EXP_ONE = 65535


def score_exp_table(output_scale: float) -> np.ndarray:
    """The exponential table of the kit's integer softmax (``kScoreExpTable`` in
    ``model_settings.h``; ``tmk::LogitsToScores`` in ``hardware/libraries/TinyMLKit``).

    For int8 logits ``q`` with output scale ``s``, ``exp(s * (q_k - max q))`` only depends on the
    difference ``d = max q - q_k`` in 0..255, so a 256-entry table replaces ``expf`` and the
    kit's scores are integers that Python reproduces exactly.

    Args:
        output_scale: the output tensor's scale (> 0), real logit units per int8 step.

    Returns:
        ``(256,)`` uint16: ``table[d] = round(65535 * exp(-output_scale * d))`` (computed in
        float64, rounded half to even); ``table[0] = 65535``.

    Raises:
        ValueError: ``output_scale`` is not a positive finite number.
    """
    scale = float(output_scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"output_scale must be a positive number, got {output_scale!r}")
    d = np.arange(256, dtype=np.float64)
    return np.round(SCORE_EXP_ONE * np.exp(-scale * d)).astype(np.uint16)


def frontend_to_int8(frontend: np.ndarray, feature_scale: float, input_quant: QuantParams) -> np.ndarray:
    """The int8 model input a kit computes from its audio frontend (``tmk::FeaturesToInt8``).

    ``feature = float32(frontend) * float32(feature_scale)`` then
    :func:`tinymlkit.quantize.quantize`: ``clip(round_half_even(feature / scale) + zero_point,
    -128, 127)``, all in float32 like the C++ code, so the two are bit-identical.

    Args:
        frontend: uint16 (or int) frontend output of any shape, e.g. ``(49, 40)``.
        feature_scale: e.g. :data:`MICRO_SPEECH_FEATURE_SCALE` (10/256).
        input_quant: the model input tensor's scale and zero point.

    Returns:
        int8 array of the same shape.

    Raises:
        ValueError: a frontend value is outside 0..65535.
    """
    frontend = np.asarray(frontend)
    if frontend.size and (frontend.min() < 0 or frontend.max() > 65535):
        raise ValueError("frontend values must be uint16 (0..65535)")
    features = frontend.astype(np.float32) * np.float32(feature_scale)
    return quantize(features, input_quant)


#: ``model_settings.json`` key of each :class:`~tinymlkit.features.FrontendSettings` field in a
#: keyword export: the keys read like the header's ``kFrontend...`` constants, and exports written
#: before the frontend was one object (issue #14) load unchanged.
FRONTEND_JSON_KEYS = {
    "sample_rate_hz": "sample_rate_hz", "window_ms": "window_ms", "stride_ms": "stride_ms",
    "n_channels": "n_channels", "lower_band_hz": "lower_band_hz", "upper_band_hz": "upper_band_hz",
    "smoothing_bits": "smoothing_bits", "even_smoothing": "even_smoothing",
    "odd_smoothing": "odd_smoothing", "min_signal_remaining": "min_signal_remaining",
    "pcan_enable": "enable_pcan", "pcan_strength": "pcan_strength", "pcan_offset": "pcan_offset",
    "pcan_gain_bits": "gain_bits", "log_scale_enable": "enable_log", "log_scale_shift": "scale_shift",
    "clip_ms": "clip_ms",
}


@dataclasses.dataclass(frozen=True)
class KeywordModelSettings:
    """Everything a keyword-spotting sketch needs besides the model bytes (``kind: "keyword"``).

    The frontend is one :class:`tinymlkit.features.FrontendSettings`, the same object that
    computed the training features, so the kit's TFLM audio microfrontend
    (tensorflow/lite/experimental/microfrontend/lib, ``FrontendConfig``) is configured exactly as
    training was; its defaults are micro_speech's (30 ms window, 20 ms stride, 40 channels between
    125 and 7500 Hz, noise reduction, PCAN gain control and log scale). The detection fields
    configure ``tmk::KeywordRecognizer`` / :class:`tinymlkit.kws_runtime.KeywordDetector`
    (defaults from micro_speech's RecognizeCommands: 1000 ms average, threshold 200, 1500 ms
    suppression, 3 results).

    Attributes:
        labels: class names in output order (:func:`tinymlkit.labels.check_label`), at most 16.
        input_quant, output_quant: scale and zero point of the int8 input and output tensors.
        arena_bytes: tensor arena to reserve, bytes.
        arena_method: how ``arena_bytes`` was obtained (``ArenaReport.method``).
        frontend: the microfrontend's settings (sample rate, window and stride in ms, channels,
            band, noise reduction, PCAN, log scale); ``sample_rate_hz``, ``window_ms``,
            ``stride_ms`` and ``n_channels`` are read through from it.
        n_frames: feature slices per model input (49 for 1 s).
        feature_scale: float feature per frontend unit (:data:`MICRO_SPEECH_FEATURE_SCALE`).
        silence_index, unknown_index: output index of the silence / unknown class, or None.
            These classes are never reported as detections.
        average_window_ms: the detector averages the scores of the last this many ms.
        detection_threshold: averaged score (0..255, ≈ probability × 256) a keyword needs.
        suppression_ms: after a detection, the same keyword is not reported again for this long.
        minimum_count: fewest results in the average before anything is detected.
        invoke_every_slices: the kit runs the model once per this many new slices (every
            ``invoke_every_slices * stride_ms`` ms).

    Raises:
        TypeError: ``frontend`` is not a FrontendSettings.
        ValueError: a field is out of range (the message names it).
    """

    labels: tuple[str, ...]
    input_quant: QuantParams
    output_quant: QuantParams
    arena_bytes: int
    arena_method: str = "tflm-minimal-search"
    frontend: FrontendSettings = dataclasses.field(default_factory=FrontendSettings)
    n_frames: int = 49
    feature_scale: float = MICRO_SPEECH_FEATURE_SCALE
    silence_index: int | None = None
    unknown_index: int | None = None
    average_window_ms: int = 1000
    detection_threshold: int = 200
    suppression_ms: int = 1500
    minimum_count: int = 3
    invoke_every_slices: int = 2

    def __post_init__(self):
        """Validate (raises TypeError or ValueError with the field's name)."""
        object.__setattr__(self, "labels", tuple(str(v) for v in self.labels))
        if not isinstance(self.frontend, FrontendSettings):
            raise TypeError(f"frontend must be a tinymlkit.features.FrontendSettings, not "
                            f"{type(self.frontend).__name__}")
        if not 1 <= len(self.labels) <= MAX_KEYWORD_CLASSES:
            raise ValueError(f"labels: 1 to {MAX_KEYWORD_CLASSES} classes, got {len(self.labels)}")
        for label in self.labels:
            check_label(label)
        for name in ("arena_bytes", "n_frames", "average_window_ms", "minimum_count", "invoke_every_slices"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if int(self.suppression_ms) < 0:
            raise ValueError(f"suppression_ms must not be negative, got {self.suppression_ms}")
        if not 0 <= int(self.detection_threshold) <= 255:
            raise ValueError(f"detection_threshold is a score 0..255, got {self.detection_threshold}")
        if not (math.isfinite(self.feature_scale) and self.feature_scale > 0):
            raise ValueError(f"feature_scale must be positive, got {self.feature_scale}")
        for name in ("silence_index", "unknown_index"):
            v = getattr(self, name)
            if v is not None and not 0 <= int(v) < len(self.labels):
                raise ValueError(f"{name}={v} is not an index into the {len(self.labels)} labels")
        if self.silence_index is not None and self.silence_index == self.unknown_index:
            raise ValueError("silence_index and unknown_index must differ")

    @property
    def sample_rate_hz(self) -> int:
        """Audio rate, Hz (``frontend.sample_rate_hz``; 16000)."""
        return self.frontend.sample_rate_hz

    @property
    def window_ms(self) -> int:
        """Frontend window, ms (``frontend.window_ms``; 30)."""
        return self.frontend.window_ms

    @property
    def stride_ms(self) -> int:
        """Frontend stride, ms (``frontend.stride_ms``; 20)."""
        return self.frontend.stride_ms

    @property
    def n_channels(self) -> int:
        """Filterbank channels per feature slice (``frontend.n_channels``; 40)."""
        return self.frontend.n_channels

    @property
    def input_shape(self) -> tuple[int, int]:
        """``(n_frames, n_channels)``, e.g. ``(49, 40)``."""
        return (int(self.n_frames), int(self.n_channels))

    @property
    def window_samples(self) -> int:
        """Audio samples per frontend window (480 for 30 ms at 16 kHz)."""
        return self.frontend.window_samples

    @property
    def stride_samples(self) -> int:
        """Audio samples per frontend stride (320 for 20 ms at 16 kHz)."""
        return self.frontend.stride_samples

    @property
    def keyword_indexes(self) -> tuple[int, ...]:
        """Output indexes that are keywords: every class but silence and unknown."""
        return tuple(i for i in range(len(self.labels))
                     if i not in (self.silence_index, self.unknown_index))

    def to_dict(self) -> dict:
        """Plain JSON-able dict (the content of ``model_settings.json``), with ``"kind": "keyword"``;
        the frontend's settings are top-level keys named as in :data:`FRONTEND_JSON_KEYS`."""
        d = {"kind": "keyword", **dataclasses.asdict(self)}
        d.pop("frontend")
        d.update({key: getattr(self.frontend, name) for key, name in FRONTEND_JSON_KEYS.items()})
        d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "KeywordModelSettings":
        """Inverse of :meth:`to_dict` (fields missing from ``d`` take their defaults).

        Raises:
            KeyError, TypeError, ValueError: a required field is missing, a field has the wrong
                type, ``kind`` is not ``"keyword"``, or a value is out of range.
        """
        if d.get("kind") != "keyword":
            raise ValueError(f"kind is {d.get('kind')!r}, not 'keyword'")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "frontend"}
        frontend_fields = {f.name: f for f in dataclasses.fields(FrontendSettings)}
        unknown = set(d) - set(fields) - set(FRONTEND_JSON_KEYS) - {"kind"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")

        def typed(default, value):
            return type(default)(value) if isinstance(default, (bool, float)) else int(value)

        frontend = {FRONTEND_JSON_KEYS[k]: typed(frontend_fields[FRONTEND_JSON_KEYS[k]].default, v)
                    for k, v in d.items() if k in FRONTEND_JSON_KEYS}
        kw = {}
        for name, value in d.items():
            if name not in fields:
                continue
            if name in ("input_quant", "output_quant"):
                value = QuantParams(float(value["scale"]), int(value["zero_point"]))
            elif name == "labels":
                value = tuple(str(v) for v in value)
            elif name in ("silence_index", "unknown_index"):
                value = None if value is None else int(value)
            elif name == "arena_method":
                value = str(value)
            else:
                value = typed(fields[name].default, value)
            kw[name] = value
        return cls(frontend=FrontendSettings(**frontend), **kw)


@dataclasses.dataclass(frozen=True)
class ImageModelSettings:
    """Everything an image sketch needs besides the model bytes (``kind: "image"``).

    A frame from the camera is cropped to its centre ``crop_size`` square, shrunk by
    ``downsample`` (the integer box mean of :func:`tinymlkit.image_features.box_downsample`) to
    ``height × width``, and fed as ``pixel - 128`` (:func:`~tinymlkit.image_features.pixels_to_int8`).

    Attributes:
        labels: class names in output order (:func:`tinymlkit.labels.check_label`).
        height, width: model input in pixels (grayscale, one channel).
        input_quant, output_quant: scale and zero point of the int8 input and output tensors
            (the input must mean ``pixel - 128``: scale 1/128, zero point 0).
        arena_bytes: tensor arena to reserve, bytes.
        arena_method: how ``arena_bytes`` was obtained (``ArenaReport.method``).
        crop_size: side of the centre square taken from a camera frame, pixels (96: the person
            detection model's input, and 3 × 32).
        downsample: that square is shrunk by this whole factor to the model input (3: 96 → 32).

    Raises:
        ValueError: a label is not valid, a size is not positive, or ``crop_size / downsample``
            is not the input size.
    """

    labels: tuple[str, ...]
    height: int
    width: int
    input_quant: QuantParams
    output_quant: QuantParams
    arena_bytes: int
    arena_method: str = "tflm-minimal-search"
    crop_size: int = 96
    downsample: int = 3

    def __post_init__(self):
        """Validate (raises ValueError with the field's name)."""
        object.__setattr__(self, "labels", tuple(str(v) for v in self.labels))
        if not self.labels:
            raise ValueError("labels: at least one class")
        for label in self.labels:
            check_label(label.replace("/", "-").replace(" ", "_"))  # names such as 'T-shirt/top' travel escaped
        for name in ("height", "width", "arena_bytes", "crop_size", "downsample"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.height != self.width or self.crop_size != self.height * self.downsample:
            raise ValueError(f"crop_size {self.crop_size} / downsample {self.downsample} must give the "
                             f"square {self.height}×{self.width} input")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, 1)``."""
        return (int(self.height), int(self.width), 1)

    @property
    def c_labels(self) -> tuple[str, ...]:
        """The labels as the kit sends them in ``#RESULT`` lines: ``/`` → ``-``, blanks → ``_``
        (``T-shirt/top`` → ``T-shirt-top``, ``Ankle boot`` → ``Ankle_boot``)."""
        return tuple(label.replace("/", "-").replace(" ", "_") for label in self.labels)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (the content of ``model_settings.json``), with ``"kind": "image"``."""
        d = {"kind": "image", **dataclasses.asdict(self)}
        d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ImageModelSettings":
        """Inverse of :meth:`to_dict`.

        Raises:
            KeyError, TypeError, ValueError: a field is missing or has the wrong type, ``kind``
                is not ``"image"``, or a value is out of range.
        """
        if d.get("kind") != "image":
            raise ValueError(f"kind is {d.get('kind')!r}, not 'image'")
        return cls(labels=tuple(str(v) for v in d["labels"]), height=int(d["height"]),
                   width=int(d["width"]),
                   input_quant=QuantParams(float(d["input_quant"]["scale"]), int(d["input_quant"]["zero_point"])),
                   output_quant=QuantParams(float(d["output_quant"]["scale"]),
                                            int(d["output_quant"]["zero_point"])),
                   arena_bytes=int(d["arena_bytes"]), arena_method=str(d["arena_method"]),
                   crop_size=int(d.get("crop_size", 96)), downsample=int(d.get("downsample", 3)))



@dataclasses.dataclass(frozen=True)
class AnomalyModelSettings:
    """A motion anomaly detector's settings (issue #17), written to ``model_settings.h`` for the
    ``anomaly_inference`` sketches and to ``model_settings.json`` (``"kind": "anomaly"``).

    On the kit, every ``stride_samples``: the latest window → (right wrist: ``channel_signs``) →
    :func:`tinymlkit.features.window_statistics` → ``z = (f - feature_mean) / feature_std`` →
    K-means score = distance from ``z`` to the nearest centroid; autoencoder score = mean of
    ``(dequantize(output) - dequantize(quantize(z)))²``. A score above its threshold is an anomaly.

    Attributes:
        channel_names, window_samples, stride_samples, sample_rate_hz, channel_signs: as
            :class:`ModelSettings`.
        feature_mean, feature_std: ``(n_features,)`` float32, fitted on normal training windows.
        centroids: ``(n_clusters, n_features)`` float32, in standardised units.
        input_quant, output_quant: the autoencoder's int8 tensors.
        autoencoder_threshold, kmeans_threshold: scores above these are anomalies (chosen on
            normal validation windows only, :func:`tinymlkit.anomaly.choose_threshold`).
        arena_bytes, arena_method: as :class:`ModelSettings`.
        normal_classes: what "normal" was when it was trained (for people, not the kit).
    """

    channel_names: tuple[str, ...]
    window_samples: int
    stride_samples: int
    sample_rate_hz: float
    feature_mean: np.ndarray
    feature_std: np.ndarray
    centroids: np.ndarray
    input_quant: QuantParams
    output_quant: QuantParams
    autoencoder_threshold: float
    kmeans_threshold: float
    arena_bytes: int
    arena_method: str = "tflm-minimal-search"
    channel_signs: tuple[int, ...] | None = None
    normal_classes: tuple[str, ...] = ()

    def __post_init__(self):
        n = 5 * len(self.channel_names)
        mean, std = np.asarray(self.feature_mean), np.asarray(self.feature_std)
        cents = np.asarray(self.centroids)
        if mean.shape != (n,) or std.shape != (n,) or not (std > 0).all():
            raise ValueError(f"feature_mean and feature_std must have {n} values (5 statistics x "
                             f"{len(self.channel_names)} channels) and std > 0")
        if cents.ndim != 2 or cents.shape[1] != n or len(cents) == 0:
            raise ValueError(f"centroids of shape {cents.shape}: expected (n_clusters >= 1, {n})")
        if not (self.autoencoder_threshold > 0 and self.kmeans_threshold > 0):
            raise ValueError("thresholds must be positive scores")

    @property
    def labels(self) -> tuple[str, ...]:
        """What the kit reports: ``("normal", "anomaly")``."""
        return ("normal", "anomaly")

    @property
    def n_features(self) -> int:
        """Length of the feature vector (5 statistics per channel)."""
        return 5 * len(self.channel_names)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (the content of ``model_settings.json``), with ``"kind": "anomaly"``."""
        d = dataclasses.asdict(self)
        d.update(kind="anomaly", channel_names=list(self.channel_names),
                 feature_mean=[float(v) for v in np.asarray(self.feature_mean)],
                 feature_std=[float(v) for v in np.asarray(self.feature_std)],
                 centroids=[[float(v) for v in row] for row in np.asarray(self.centroids)],
                 channel_signs=list(self.channel_signs) if self.channel_signs else None,
                 normal_classes=list(self.normal_classes))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AnomalyModelSettings":
        """Inverse of :meth:`to_dict`.

        Raises:
            KeyError, TypeError, ValueError: a field is missing or has the wrong type or shape.
        """
        return cls(channel_names=tuple(d["channel_names"]), window_samples=int(d["window_samples"]),
                   stride_samples=int(d["stride_samples"]), sample_rate_hz=float(d["sample_rate_hz"]),
                   feature_mean=np.asarray(d["feature_mean"], dtype=np.float32),
                   feature_std=np.asarray(d["feature_std"], dtype=np.float32),
                   centroids=np.asarray(d["centroids"], dtype=np.float32),
                   input_quant=QuantParams(float(d["input_quant"]["scale"]), int(d["input_quant"]["zero_point"])),
                   output_quant=QuantParams(float(d["output_quant"]["scale"]), int(d["output_quant"]["zero_point"])),
                   autoencoder_threshold=float(d["autoencoder_threshold"]),
                   kmeans_threshold=float(d["kmeans_threshold"]), arena_bytes=int(d["arena_bytes"]),
                   arena_method=str(d["arena_method"]),
                   channel_signs=tuple(int(v) for v in d["channel_signs"]) if d.get("channel_signs") else None,
                   normal_classes=tuple(d.get("normal_classes", ())))
