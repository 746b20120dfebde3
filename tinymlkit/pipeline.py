"""The course pipelines end to end: data → features → model → int8 → TFLM + arena → C files → fit.

Motion: ``tinymlkit demo`` (and ``make demo``) calls :func:`run_demo`. Keyword spotting:
``tinymlkit kws`` calls :func:`run_kws`. For motion, ``modules/01_pipeline_tour.ipynb``
walks through the same stages one call at a time. Imports every stage, so nothing earlier may
import it.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Callable

import numpy as np
from scipy.special import softmax

from . import boards as boards_mod
from .datasets import (DEFAULT_TEST_SUBJECTS, DIGIT_WORDS, FLITE_VOICES, NOISE_KINDS, DatasetError,
                       background_noise, held_out_speakers_by_group, keyword_classes, load_keyword_clips,
                       load_motion, load_real_digits, load_real_voice_digits, load_synthetic_keywords,
                       silence_clips, subject_split)
from .export import write_model_files
from .files import write_atomic
from .model_settings import ImageModelSettings, KeywordModelSettings, ModelSettings, sketch_arena_bytes
from .images import load_fashion_mnist, load_person_detect_examples
from .image_features import check_pixel_quant, normalize_pixels, pad_images, pixels_to_int8
from .vision import PERSON_DETECT_EXAMPLE_ARENA_BYTES, detect_person, person_detect_model
from . import anomaly as anomaly_mod
from .features import (AugmentConfig, FrontendSettings, KitAudioConfig, RIGHT_TO_LEFT_WRIST_SIGNS,
                       augment_clips, fit_normalization, keyword_features, ms_to_samples,
                       random_rotations, room_impulse_responses, sound_like_kit,
                       streamed_keyword_features, window_recordings)
from .models import build_autoencoder, build_cnn1d, build_ds_cnn, build_image_cnn, count_parameters
from .quantize import dequantize, litert_predict, model_io, quantize, quantize_int8
from .report import (TFLITE_BYTES_METHOD, accuracy_by_group, fa_fr_curve, fit_report,
                     format_fit_table, measure_model_flash)
from .tflm import measure_arena, predict_int8
from .train import predict_classes, train_autoencoder, train_classifier
from .plots import (plot_accuracy_by_group, plot_anomaly_scores, plot_confusion_matrix, plot_fa_fr_curve,
                    plot_roc)
from .keywords import KEYWORD_SAMPLE_RATE_HZ
from .labels import SILENCE_CLASS, UNKNOWN_CLASS

__all__ = ["DemoConfig", "run_demo", "REPORT_KEYS", "KwsConfig", "run_kws", "KWS_REPORT_KEYS",
           "SHIPPED_REAL_SPEAKERS", "VisionConfig", "run_vision", "VISION_REPORT_KEYS", "CAMERA_FRAME_BYTES",
           "AnomalyConfig", "run_anomaly", "ANOMALY_REPORT_KEYS"]

#: Keys every ``report.json`` has (tests and graders rely on them).
REPORT_KEYS = ("dataset", "train_subjects", "test_subjects", "float_accuracy", "int8_accuracy",
               "model_bytes", "arena_bytes", "litert_argmax_agreement", "seconds", "boards")


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo pipeline; the defaults are the course's reference model.

    Attributes:
        window_ms: window length in ms (2 s: about one exercise repetition).
        train_stride_ms: hop between training windows in ms (overlap = more training windows).
        rotation_std_deg, rotated_copies: augmentation — this many extra copies of the training
            windows, each turned by a random rotation (see
            :func:`tinymlkit.features.random_rotations`); 0 copies turns it off.
        stride_ms: hop between windows at test time and on the device, in ms.
        filters, kernel_size, n_blocks: see :func:`tinymlkit.models.build_cnn1d`.
        epochs, batch_size, learning_rate: see :func:`tinymlkit.train.train_classifier`.
        representative_samples: windows in the PTQ representative dataset.
        test_subjects: subjects never used for training or normalisation.
        seed: for every random choice.
    """

    window_ms: float = 2000.0
    train_stride_ms: float = 400.0
    rotation_std_deg: float = 20.0
    rotated_copies: int = 1
    stride_ms: float = 1000.0
    filters: int = 12
    kernel_size: int = 5
    n_blocks: int = 3
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    representative_samples: int = 300
    test_subjects: tuple[int, ...] = DEFAULT_TEST_SUBJECTS
    seed: int = 0


def run_demo(out_dir: str | pathlib.Path = "build/demo", config: DemoConfig = DemoConfig(), *,
             progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train, quantize, run in TFLM, size the arena, export C files and check every kit.

    Writes into ``out_dir``: ``model_int8.tflite``, ``model_data.cc``, ``model_data.h``,
    ``model_settings.h``, ``confusion_matrix.png`` and ``report.json`` (each atomically).

    Args:
        out_dir: output folder (created).
        config: a :class:`DemoConfig`.
        progress: progress bars for training and inference.
        log: where the human summary goes (``print`` by default).

    Returns:
        The report dict written to ``report.json`` (keys: :data:`REPORT_KEYS` and more).
    """
    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    steps = 7

    def step(k: int, text: str) -> None:
        log(f"[{k}/{steps}] {text}")

    step(1, "Loading the smartwatch shoulder-exercise dataset")
    ds = load_motion()
    log(f"      {ds.summary()}")
    train_rec, test_rec = subject_split(ds.subject_ids, config.test_subjects)
    window = ms_to_samples(config.window_ms, ds.sample_rate_hz)
    train_stride = ms_to_samples(config.train_stride_ms, ds.sample_rate_hz)
    stride = ms_to_samples(config.stride_ms, ds.sample_rate_hz)
    train = window_recordings(ds.recordings, ds.labels, ds.subject_ids, window, train_stride,
                              sides=ds.sides, indices=train_rec)
    test = window_recordings(ds.recordings, ds.labels, ds.subject_ids, window, stride,
                             sides=ds.sides, indices=test_rec)
    norm = fit_normalization(train.x)
    x_train, x_test = norm.apply(train.x), norm.apply(test.x)
    augmented = [train.x] + [random_rotations(train.x, config.rotation_std_deg, seed=config.seed + k)
                             for k in range(config.rotated_copies)]
    x_fit, y_fit = norm.apply(np.concatenate(augmented)), np.tile(train.y, len(augmented))
    train_subjects = sorted(int(s) for s in np.unique(ds.subject_ids[train_rec]))
    log(f"      {len(train)} training windows (subjects {train_subjects}) + {len(x_fit) - len(train)} "
        f"rotated copies, {len(test)} test "
        f"windows (unseen subjects {list(config.test_subjects)}); window {window} samples "
        f"({config.window_ms:g} ms)")

    step(2, f"Training a 1-D CNN for {config.epochs} epochs (seed {config.seed})")
    model = build_cnn1d(window, len(ds.channel_names), len(ds.class_names),
                        filters=config.filters, kernel_size=config.kernel_size,
                        n_blocks=config.n_blocks, seed=config.seed)
    result = train_classifier(model, x_fit, y_fit, epochs=config.epochs,
                              batch_size=config.batch_size, learning_rate=config.learning_rate,
                              validation=(x_test, test.y), seed=config.seed, progress=progress)
    float_pred = predict_classes(model, x_test)
    float_acc = float(np.mean(float_pred == test.y))
    log(f"      {count_parameters(model):,} parameters, {result.seconds:.0f} s; float accuracy "
        f"on unseen subjects {float_acc:.3f}")

    step(3, "Quantizing to int8 (post-training, representative dataset from training windows)")
    model_bytes = quantize_int8(model, x_train, n_samples=config.representative_samples,
                                seed=config.seed)
    io_ = model_io(model_bytes)
    x_test_q = quantize(x_test, io_.input_quant)
    log(f"      {len(model_bytes):,} bytes; input scale {io_.input_quant.scale:.5f}, zero point "
        f"{io_.input_quant.zero_point}")

    step(4, "Running the int8 model in the TFLM interpreter")
    out_tflm, runtime = predict_int8(model_bytes, x_test_q, progress=progress)
    int8_pred = out_tflm.argmax(1)
    int8_acc = float(np.mean(int8_pred == test.y))
    out_ref = litert_predict(model_bytes, x_test_q)
    agreement = float(np.mean(out_ref.argmax(1) == int8_pred))
    max_step_diff = int(np.max(np.abs(out_ref.astype(np.int32) - out_tflm.astype(np.int32))))
    per_subject = {int(s): float(np.mean(int8_pred[test.subject_ids == s] == test.y[test.subject_ids == s]))
                   for s in config.test_subjects}
    log(f"      int8 accuracy ({runtime}) {int8_acc:.3f}; same class as LiteRT in "
        f"{agreement:.1%} of windows (largest output difference {max_step_diff} int8 step)")

    step(5, "Measuring the tensor arena")
    arena = measure_arena(model_bytes)
    log(f"      {arena.arena_bytes:,} bytes ({arena.method})")

    step(6, "Exporting C files for the kits")
    settings = ModelSettings(labels=ds.class_names, channel_names=ds.channel_names,
                             window_samples=window, stride_samples=stride,
                             sample_rate_hz=ds.sample_rate_hz, input_quant=io_.input_quant,
                             output_quant=io_.output_quant, normalization=norm,
                             arena_bytes=arena.arena_bytes, arena_method=arena.method,
                             channel_signs=RIGHT_TO_LEFT_WRIST_SIGNS)
    files = write_model_files(out_dir, model_bytes, settings)
    fig = plot_confusion_matrix(test.y, int8_pred, ds.class_names,
                                title=f"int8 model in {runtime.upper() if runtime == 'tflm' else runtime}, unseen subjects "
                                      f"{list(config.test_subjects)}: accuracy {int8_acc:.3f}")
    fig.savefig(out_dir / ".confusion_matrix.tmp.png", dpi=110)
    (out_dir / ".confusion_matrix.tmp.png").replace(out_dir / "confusion_matrix.png")
    log(f"      {', '.join(p.name for p in files.values())}, confusion_matrix.png → {out_dir}/")

    step(7, "Checking the fit on every kit")
    buffer_bytes = window * len(ds.channel_names) * 4  # the sketch's float window buffer
    flash = measure_model_flash(files["source"], len(model_bytes))
    log(f"      model in flash: {flash.flash_bytes:,} bytes ("
        + (f"model_data.cc compiled: {flash.method}" if flash.method != TFLITE_BYTES_METHOD
           else f".tflite size; {flash.note}") + ")")
    fits = fit_report(flash.flash_bytes, sketch_arena_bytes(arena.arena_bytes), buffer_bytes,
                      boards_mod.load_boards())
    log(format_fit_table(fits))

    report = {
        "dataset": {"name": "Burns et al. 2018 smartwatch shoulder exercises (seglearn watch data)",
                    "path": ds.path.name, "recordings": len(ds), "classes": list(ds.class_names),
                    "sample_rate_hz": ds.sample_rate_hz},
        "train_subjects": train_subjects,
        "test_subjects": list(config.test_subjects),
        "window_samples": window,
        "stride_samples": stride,
        "train_windows": len(train),
        "test_windows": len(test),
        "parameters": count_parameters(model),
        "float_accuracy": float_acc,
        "int8_accuracy": int8_acc,
        "int8_accuracy_per_subject": per_subject,
        "int8_runtime": runtime,
        "model_bytes": len(model_bytes),
        "model_flash_bytes": flash.flash_bytes,
        "model_flash_method": flash.method,
        "arena_bytes": arena.arena_bytes,
        "arena_allocated_bytes": sketch_arena_bytes(arena.arena_bytes),
        "buffer_bytes": buffer_bytes,
        "arena_recorded_bytes": arena.recorded_bytes,
        "arena_method": arena.method,
        "input_quantization": dataclasses.asdict(io_.input_quant),
        "output_quantization": dataclasses.asdict(io_.output_quant),
        "normalization": norm.to_dict(),
        "litert_argmax_agreement": agreement,
        "litert_max_output_difference_steps": max_step_diff,
        "train_seconds": result.seconds,
        "history": result.history,
        "config": dataclasses.asdict(config),
        "boards": {bid: {"fits": r.fits, "flash_bytes": r.flash_bytes, "ram_bytes": r.ram_bytes,
                         "message": r.message} for bid, r in fits.items()},
    }
    report["seconds"] = round(time.perf_counter() - start, 2)
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    log(f"Done in {report['seconds']:.0f} s: int8 accuracy {int8_acc:.3f} on unseen subjects "
        f"(float {float_acc:.3f}), model {len(model_bytes):,} B, arena {arena.arena_bytes:,} B. "
        f"Report: {out_dir / 'report.json'}")
    return report


#: Keys every keyword-spotting ``report.json`` has.
KWS_REPORT_KEYS = ("keywords", "classes", "train_speakers", "test_speakers", "float_accuracy",
                   "int8_accuracy", "accuracy_drop_points", "accuracy_by_voice", "accuracy_by_speaker",
                   "real_voice_accuracy_by_speaker", "real_voice_accuracy_mean", "real_voice_correct",
                   "real_voice_clips", "real_voice_predictions", "class_accuracy_by_speaker", "eer",
                   "eer_threshold", "model_bytes", "arena_bytes", "seconds")

#: The real speakers shipped with the course (``tinymlkit/data/keywords/fsdd/``).
SHIPPED_REAL_SPEAKERS = ("jackson", "lucas", "nicolas")


@dataclasses.dataclass(frozen=True)
class KwsConfig:
    """Settings of the keyword-spotting pipeline (:func:`run_kws`); the defaults are the course's
    reference model: synthetic voices plus the shipped real speakers, made to sound like a kit's
    microphone in a room.

    The recipe was chosen by the leave-one-speaker-out accuracy on the real speakers, per clip and
    through the kit's continuous frontend, within ``make kws``'s 3-minute budget on 2 cores (four
    trainings: one per left-out speaker and the shipped model); ``benchmarks/bench_kws.py`` prints
    the ablation and module 08 shows it. One leave-one-speaker-out number moves by a few points
    between seeds: read differences under about 5 points as noise.

    Attributes:
        keywords: the words to spot; every other word of the shipped set is ``"unknown"``.
        test_speakers_per_voice: synthetic speakers of each espeak-ng accent held out for testing
            (split by speaker, stratified by accent); at most a fifth of a group's speakers are
            held out, so of the five flite voices (one speaker each, one group) one tests.
        real_speakers: shipped real speakers (:data:`SHIPPED_REAL_SPEAKERS`) to train on; each is
            also tested leave-one-speaker-out (a model trained without them). ``()``: synthetic
            voices only.
        real_copies: augmented copies of every real training clip (real clips are few and
            precious; the synthetic ones get ``augmented_copies``; 3 copies and 25 epochs scored
            a few points higher but took 4 minutes).
        kit_audio: the speaker/room/microphone chain (:func:`tinymlkit.features.sound_like_kit`)
            applied to every augmented copy before ``augment``; ``None``: off. Rooms and the
            microphone are on; pitch shift is off (it cost 20 s and gave nothing measurable).
        rooms: simulated room impulse responses for ``kit_audio``.
        upper_band_hz: top of the microfrontend's filterbank, Hz. 4000 keeps the features honest
            in both directions: the shipped real voices were recorded at 8 kHz (nothing above
            4 kHz) and the kits record at 16 kHz, so a model that looked above 4 kHz would learn
            "no high band" as a trait of real voices and meet it nowhere on a kit.
        silence_clips: generated room-noise clips for the ``"silence"`` class (training).
        augmented_copies: randomly augmented copies of every synthetic training clip.
        synthetic_originals: train on the clean synthetic clips too (besides their copies); real
            clips always keep their originals.
        stream_share: share of the augmented copies whose features are computed as the kit
            computes them — the clips played back to back through one microfrontend that never
            restarts, so its noise estimate and gain carry over from the words before — instead of
            a fresh frontend per clip. A model trained on fresh features only lost about half its
            real-voice accuracy through the kit's continuous frontend
            (``real_voice_accuracy_continuous_frontend_by_speaker``); one trained on streamed
            copies only lost it clip by clip; half and half serves both.
        augment: the augmentation ranges (:func:`tinymlkit.features.augment_clips`).
        batch_norm, epochs, batch_size, learning_rate: model and training (see
            :func:`tinymlkit.models.build_ds_cnn` and :func:`tinymlkit.train.train_classifier`).
        representative_samples: feature windows in the PTQ representative dataset.
        class_copies: augmented copies of every class training take (``run_kws(extra=...)``): a
            class records few takes; on a simulated class of three speakers (``make bench``) the
            held-back accuracy was 0.85 with 2 copies and 20 epochs, 0.91 with 6 copies, 0.92 with
            6 copies and 30 epochs, and 0.94 with 10 copies and 30 epochs.
        class_epochs: epochs of every model trained when a class's recordings join
            (``run_kws(extra=...)``) instead of ``epochs``: the pool is larger then, and the class
            run is not bound by ``make kws``'s 3 minutes (about 2 minutes more on 2 cores).
        class_test_every: of a class speaker's takes of each word (``run_kws(extra=...)``), every
            this-many-th take (in recording order, from the last) is held back for the test.
        detection_threshold, average_window_ms: the kit's detector: a keyword is announced when
            its score (0..255 ≈ probability × 256) averaged over the last ``average_window_ms``
            reaches the threshold (micro_speech: 200 over 1000 ms; the course: 128 over 300 ms,
            chosen on streams of unseen synthetic speakers with no detection on room noise,
            ``tests/test_kws_pipeline.py``).
        seed: for every random choice.
    """

    keywords: tuple[str, ...] = DIGIT_WORDS
    test_speakers_per_voice: int = 4
    real_speakers: tuple[str, ...] = SHIPPED_REAL_SPEAKERS
    real_copies: int = 2
    kit_audio: KitAudioConfig | None = KitAudioConfig(pitch_probability=0.0)
    rooms: int = 24
    upper_band_hz: float = 4000.0
    silence_clips: int = 300
    augmented_copies: int = 1
    synthetic_originals: bool = True
    stream_share: float = 0.5
    augment: AugmentConfig = AugmentConfig(snr_db=(5.0, 25.0))
    batch_norm: bool = True
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3
    representative_samples: int = 300
    class_copies: int = 10
    class_epochs: int = 30
    class_test_every: int = 5
    detection_threshold: int = 128
    average_window_ms: int = 300
    seed: int = 0

    @property
    def frontend(self) -> FrontendSettings:
        """The microfrontend settings: micro_speech's, with the filterbank top at ``upper_band_hz``."""
        return FrontendSettings(upper_band_hz=float(self.upper_band_hz))


def _save_figure(fig, path: pathlib.Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)


def _held_back_takes(clips, every: int) -> np.ndarray:
    """``(n_clips,)`` bool: every ``every``-th take of each (speaker, word), counted from the
    last recorded (manifest order), is held back for the test."""
    held = np.zeros(len(clips), dtype=bool)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(clips.speaker_ids, clips.labels)):
        groups.setdefault(key, []).append(i)
    for rows in groups.values():
        held[rows[::-1][::every]] = True
    return held


@dataclasses.dataclass
class _TrainingPool:
    """Feature windows of every training clip and its augmented copies, with who said each."""

    x: np.ndarray
    y: np.ndarray
    speaker: np.ndarray

    def without(self, speaker: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of every clip not said by ``speaker``, their augmented copies excluded too."""
        keep = self.speaker != speaker
        return self.x[keep], self.y[keep]


def _training_pool(parts, config: KwsConfig, noise, rirs, progress: bool) -> _TrainingPool:
    """Augment each ``(audio, y, speakers, copies, keep_originals)`` part ``copies`` times (kit
    chain, then :func:`augment_clips`) and compute the features of the copies (and of the
    originals, if kept) once: originals with a fresh frontend per clip, a ``config.stream_share``
    of the copies as the kit computes them
    (:func:`tinymlkit.features.streamed_keyword_features`)."""

    x, ys, speakers = [], [], []
    for k, (a, y, who, copies, keep_originals) in enumerate(parts):
        if keep_originals:
            x.append(keyword_features(a, config.frontend, progress=progress))
            ys.append(y)
            speakers.append(np.asarray(who))
        for c in range(copies):
            seed = config.seed + 1000 * (k + 1) + c
            src = a if config.kit_audio is None else sound_like_kit(a, rirs, config.kit_audio, seed=seed)
            copy = augment_clips(src, noise, config.augment, seed=seed)
            # a share of the copies as the kit computes them: one frontend that never restarts
            streamed = np.random.default_rng(seed).random(len(copy)) < config.stream_share
            features = np.empty((len(copy), *config.frontend.feature_shape), dtype=np.float32)
            if streamed.any():
                features[streamed] = streamed_keyword_features(copy[streamed], config.frontend, seed=seed)
            if (~streamed).any():
                features[~streamed] = keyword_features(copy[~streamed], config.frontend, progress=progress)
            x.append(features)
            ys.append(y)
            speakers.append(np.asarray(who))
    return _TrainingPool(np.concatenate(x), np.concatenate(ys), np.concatenate(speakers))


def _train_int8(x, y, n_classes: int, config: KwsConfig, epochs: int, progress: bool):
    """Train a DS-CNN on ``(x, y)`` for ``epochs`` and convert it to int8:
    ``(model, model_bytes, result)``."""

    model = build_ds_cnn(n_classes, batch_norm=config.batch_norm, seed=config.seed)
    result = train_classifier(model, x, y, epochs=epochs, batch_size=config.batch_size,
                              learning_rate=config.learning_rate, seed=config.seed, progress=progress)
    model_bytes = quantize_int8(model, x, n_samples=config.representative_samples, seed=config.seed)
    return model, model_bytes, result


def _int8_predict(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    logits_q, _ = predict_int8(model_bytes, quantize(x, model_io(model_bytes).input_quant))
    return logits_q.argmax(1)


def _score_person(model_bytes: bytes, audio: np.ndarray, x: np.ndarray, y: np.ndarray,
                  config: KwsConfig) -> tuple[np.ndarray, float, float]:
    """One person's clips through an int8 model: ``(predictions, accuracy clip by clip, accuracy
    through the kit's continuous frontend)``."""

    pred = _int8_predict(model_bytes, x)
    streamed = _int8_predict(model_bytes, streamed_keyword_features(audio, config.frontend, seed=config.seed))
    return pred, float(np.mean(pred == y)), float(np.mean(streamed == y))


def run_kws(out_dir: str | pathlib.Path = "build/kws", config: KwsConfig = KwsConfig(), *,
            extra: str | pathlib.Path | None = None, progress: bool = True,
            log: Callable[[str], None] = print) -> dict:
    """The keyword-spotting pipeline: synthetic voices and real speakers, split by speaker, made
    to sound like a kit's microphone in a room, microfrontend features, DS-CNN, int8 PTQ, TFLM,
    tensor arena, C files, and an honest evaluation — synthetic test speakers per accent, every
    real speaker leave-one-speaker-out, Allison's ten digits, a class's held-back takes, an
    FA/FR curve.

    Leave-one-speaker-out: for each speaker of ``config.real_speakers`` a model is trained with
    the same recipe on everything except that speaker's clips, converted to int8 and run in TFLM
    on all of that speaker's clips; ``real_voice_accuracy_by_speaker`` holds the results and
    ``real_voice_accuracy_mean`` their mean. The shipped model is then trained on everything.
    With ``real_speakers=()`` and no ``extra`` (synthetic voices only) the shipped model itself is
    tested on every shipped real speaker, none of whom it heard.

    Writes into ``out_dir``: the model files of :func:`tinymlkit.export.write_model_files` (with
    :class:`tinymlkit.export.KeywordModelSettings`), ``confusion_matrix.png``, ``fa_fr_curve.png``,
    ``accuracy_by_voice.png``, ``accuracy_by_speaker.png`` and ``report.json`` (keys
    :data:`KWS_REPORT_KEYS` and more).

    Args:
        out_dir: output folder (created).
        config: a :class:`KwsConfig`.
        extra: a class's pooled keyword folder (``tinymlkit keywords pool``; any folder that
            :func:`tinymlkit.datasets.load_keyword_clips` reads): its speakers train too, except
            every ``config.class_test_every``-th take of each word, which tests the shipped model
            (``class_accuracy_by_speaker``).
        progress: progress bars.
        log: where the human summary goes.

    Returns:
        The report dict.

    Raises:
        tinymlkit.datasets.DatasetError: ``extra`` is not a keyword folder, or a real speaker is
            unknown.
        ValueError: ``extra`` has no clip of any class, or a class speaker has too few takes to
            hold one back.
    """

    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = tuple(config.keywords) + (UNKNOWN_CLASS, SILENCE_CLASS)
    n_folds = len(config.real_speakers)
    steps = 7

    def step(k: int, text: str) -> None:
        log(f"[{k}/{steps}] {text}")

    class_test = None
    epochs = config.epochs if extra is None else config.class_epochs
    if extra is not None:  # checked first: a wrong folder is said before a minute of work
        pooled = load_keyword_clips(extra)
        held = _held_back_takes(pooled, config.class_test_every)
        lonely = sorted(set(pooled.speaker_ids) - {s for s, h in zip(pooled.speaker_ids, held) if not h})
        if lonely:
            raise ValueError(f"'{extra}': {', '.join(lonely)} recorded one take per word; record at "
                             f"least 2 so that one trains and one tests")
        class_train, class_test = pooled.select(~held), pooled.select(held)
    step(1, "Loading the synthetic keywords, the real speakers and Allison's digits"
         + (f", and the class recordings in {extra}" if extra else ""))
    clips = load_synthetic_keywords()
    allison = load_real_voice_digits()
    real = load_real_digits(tuple(config.real_speakers)) if config.real_speakers else None
    # synthetic voices only: every shipped real voice is unseen (unless a class folder may hold them)
    strangers = load_real_digits() if real is None and extra is None else None
    if real is not None and set(real.speaker_ids) != set(config.real_speakers):
        raise DatasetError(f"real_speakers {config.real_speakers}: the shipped set has "
                           f"{sorted(set(real.speaker_ids))}")
    # by espeak-ng accent, or "flite" (one speaker per voice); every group keeps most of its speakers
    groups = ["flite" if voice in FLITE_VOICES else voice for voice in clips.voices]
    test_speakers = held_out_speakers_by_group(clips.speaker_ids, groups, config.test_speakers_per_voice,
                                               seed=config.seed)
    is_test = np.isin(clips.speaker_ids, test_speakers)
    train, test = clips.select(~is_test), clips.select(is_test)
    silence = silence_clips(config.silence_clips, seed=config.seed)
    noise = {kind: background_noise(kind, 30.0, seed=config.seed + i) for i, kind in enumerate(NOISE_KINDS)}
    rirs = room_impulse_responses(config.rooms, seed=config.seed) if config.kit_audio is not None else []
    parts = [(np.concatenate([train.audio, silence.audio]),
              keyword_classes(train.labels + silence.labels, config.keywords),
              ["synthetic"] * (len(train) + len(silence)), config.augmented_copies, config.synthetic_originals)]
    if real is not None:
        parts.append((real.audio, keyword_classes(real.labels, config.keywords), real.speaker_ids,
                      config.real_copies, True))
    if class_test is not None:
        parts.append((class_train.audio, keyword_classes(class_train.labels, config.keywords),
                      ["class:" + s for s in class_train.speaker_ids], config.class_copies, True))
    pool = _training_pool(parts, config, noise, rirs, progress)
    test_silence = silence_clips(100, seed=config.seed + 99)
    x_test = keyword_features(np.concatenate([test.audio, test_silence.audio]), config.frontend)
    y_test = keyword_classes(test.labels + test_silence.labels, config.keywords)
    voices_test = np.array(test.voices + test_silence.voices)
    speakers_test = np.array(test.speaker_ids + test_silence.speaker_ids)
    n_train_speakers = len(set(train.speaker_ids))
    log(f"      synthetic: {len(train)} clips from {n_train_speakers} speakers + {len(silence)} silence; "
        f"real: {0 if real is None else len(real)} clips from {n_folds} speakers"
        + (f"; class: {len(class_train)} clips from {len(set(class_train.speaker_ids))} speakers "
           f"({len(class_test)} takes held back)" if class_test is not None else "")
        + f"; with augmented copies {len(pool.y)} training clips ({config.rooms if rirs else 0} simulated rooms)")
    log(f"      test: {len(test)} clips from {len(test_speakers)} other synthetic speakers + "
        f"{len(test_silence)} silence; classes {classes}")

    by_real: dict[str, float] = {}
    by_real_streamed: dict[str, float] = {}  # the same clips through the kit's never-reset frontend
    real_pred_loso = np.zeros(0, dtype=np.int64)
    if real is not None:
        step(2, f"Leave-one-speaker-out on the real voices: {n_folds} models, each without one speaker")
        x_real = keyword_features(real.audio, config.frontend)
        y_real = keyword_classes(real.labels, config.keywords)
        real_pred_loso = np.zeros(len(real), dtype=np.int64)
        for k, speaker in enumerate(config.real_speakers):
            rows = np.array(real.speaker_ids) == speaker
            _, fold_bytes, fold = _train_int8(*pool.without(speaker), len(classes), config, epochs, progress)
            real_pred_loso[rows], by_real[speaker], by_real_streamed[speaker] = _score_person(
                fold_bytes, real.audio[rows], x_real[rows], y_real[rows], config)
            log(f"      {k + 1}/{n_folds} without {speaker}: int8 accuracy on {speaker} "
                f"{by_real[speaker]:.3f} ({rows.sum()} clips, trained {fold.seconds:.0f} s); with the "
                f"kit's continuous frontend {by_real_streamed[speaker]:.3f}")
        log(f"      real voices never heard in training: mean {np.mean(list(by_real.values())):.3f}")
    else:
        step(2, "Leave-one-speaker-out: not needed (no real speaker trains; all are tested after step 3)")

    step(3, f"Training the shipped DS-CNN on everything for {epochs} epochs (seed {config.seed})")
    model, model_bytes, result = _train_int8(pool.x, pool.y, len(classes), config, epochs, progress)
    float_pred = predict_classes(model, x_test)
    float_acc = float(np.mean(float_pred == y_test))
    log(f"      {count_parameters(model):,} parameters, {result.seconds:.0f} s; float accuracy on "
        f"synthetic test speakers {float_acc:.3f}")

    step(4, "Quantizing to int8 and running it in TFLM")
    io_ = model_io(model_bytes)
    logits_q, runtime = predict_int8(model_bytes, quantize(x_test, io_.input_quant), progress=progress)
    int8_pred = logits_q.argmax(1)
    int8_acc = float(np.mean(int8_pred == y_test))
    if strangers is not None:  # the synthetic-only model on the real speakers it never heard
        real = strangers
        x_real = keyword_features(real.audio, config.frontend)
        y_real = keyword_classes(real.labels, config.keywords)
        real_pred_loso = np.zeros(len(real), dtype=np.int64)
        for speaker in SHIPPED_REAL_SPEAKERS:
            rows = np.array(real.speaker_ids) == speaker
            real_pred_loso[rows], by_real[speaker], by_real_streamed[speaker] = _score_person(
                model_bytes, real.audio[rows], x_real[rows], y_real[rows], config)
        log("      real voices, none heard in training: "
            + ", ".join(f"{s} {a:.3f}" for s, a in by_real.items()))
    allison_pred = _int8_predict(model_bytes, keyword_features(allison.audio, config.frontend))
    allison_y = keyword_classes(allison.labels, config.keywords)
    by_voice = accuracy_by_group(y_test, int8_pred, voices_test)
    by_speaker = accuracy_by_group(y_test[:len(test)], int8_pred[:len(test)], speakers_test[:len(test)])
    worst = sorted(by_speaker.items(), key=lambda kv: kv[1])[:3]
    by_class: dict[str, float] = {}
    if class_test is not None:
        class_pred = _int8_predict(model_bytes, keyword_features(class_test.audio, config.frontend))
        by_class = dict(accuracy_by_group(keyword_classes(class_test.labels, config.keywords), class_pred,
                                          np.array(class_test.speaker_ids)))
    log(f"      int8 ({runtime}) {int8_acc:.3f} (float {float_acc:.3f}) on synthetic test speakers; "
        f"Allison: {int(np.sum(allison_pred == allison_y))} of {len(allison)} digits correct")
    log(f"      synthetic per speaker: median {np.median(list(by_speaker.values())):.2f}, worst "
        + ", ".join(f"{s} {a:.2f}" for s, a in worst))
    if by_class:
        log("      class speakers' held-back takes: " + ", ".join(f"{s} {a:.2f}" for s, a in sorted(by_class.items()))
            + f" (mean {np.mean(list(by_class.values())):.3f})")

    step(5, "False accepts and false rejects over the threshold")
    logits = dequantize(logits_q, io_.output_quant)
    curve = fa_fr_curve(softmax(logits, axis=1), y_test, list(range(len(config.keywords))))
    fa_half, fr_half = curve.at(0.5)
    log(f"      at probability 0.5: {fa_half:.1%} false accepts (unknown words, silence), "
        f"{fr_half:.1%} false rejects; equal error rate {curve.eer:.1%}")

    step(6, "Measuring the tensor arena and exporting C files")
    arena = measure_arena(model_bytes)
    settings = KeywordModelSettings(labels=classes, input_quant=io_.input_quant,
                                    output_quant=io_.output_quant, arena_bytes=arena.arena_bytes,
                                    arena_method=arena.method, unknown_index=len(config.keywords),
                                    silence_index=len(config.keywords) + 1,
                                    frontend=config.frontend,
                                    detection_threshold=config.detection_threshold,
                                    average_window_ms=config.average_window_ms)
    files = write_model_files(out_dir, model_bytes, settings)
    _save_figure(plot_confusion_matrix(y_test, int8_pred, classes,
                                       title=f"int8, synthetic test speakers: {int8_acc:.3f}"),
                 out_dir / "confusion_matrix.png")
    _save_figure(plot_fa_fr_curve(curve.thresholds, curve.false_accept_rate, curve.false_reject_rate),
                 out_dir / "fa_fr_curve.png")
    _save_figure(plot_accuracy_by_group(by_voice, by_voice.counts,
                                        title="int8 accuracy per voice (unseen synthetic speakers)"),
                 out_dir / "accuracy_by_voice.png")
    unseen = "left out" if strangers is None else "never trained on"
    people = {**{f"{s} ({unseen})": a for s, a in by_real.items()},
              **{f"{s} (held-back takes)": a for s, a in by_class.items()}}
    if people:
        counts = {**{f"{s} ({unseen})": int(np.sum(np.array(real.speaker_ids) == s)) for s in by_real},
                  **{f"{s} (held-back takes)": int(np.sum(np.array(class_test.speaker_ids) == s))
                     for s in by_class}}
        _save_figure(plot_accuracy_by_group(people, counts, title="int8 accuracy per real speaker"),
                     out_dir / "accuracy_by_speaker.png")
    log(f"      {len(model_bytes):,} B model, {arena.arena_bytes:,} B arena ({arena.method}); "
        f"{', '.join(p.name for p in files.values())} → {out_dir}/")

    step(7, "Checking the fit on every kit")
    flash = measure_model_flash(files["source"], len(model_bytes))
    audio_ring_bytes = KEYWORD_SAMPLE_RATE_HZ * 2  # the sketch's int16 audio: up to 1 s
    fits = fit_report(flash.flash_bytes, sketch_arena_bytes(arena.arena_bytes), audio_ring_bytes,
                      boards_mod.load_boards())
    log(format_fit_table(fits))

    config_dict = dataclasses.asdict(config)
    report = {
        "keywords": list(config.keywords), "classes": list(classes),
        "train_speakers": n_train_speakers, "test_speakers": len(test_speakers),
        "test_speaker_ids": test_speakers, "train_clips": len(train), "test_clips": len(test),
        "training_clips_with_copies": len(pool.y),
        "parameters": count_parameters(model),
        "float_accuracy": float_acc, "int8_accuracy": int8_acc, "int8_runtime": runtime,
        "accuracy_drop_points": round(100 * (float_acc - int8_acc), 2),
        "accuracy_by_voice": dict(by_voice), "clips_by_voice": by_voice.counts,
        "accuracy_by_speaker": dict(by_speaker),
        "real_voice_accuracy_by_speaker": by_real,
        "real_voice_accuracy_mean": float(np.mean(list(by_real.values()))) if by_real else None,
        "real_voice_accuracy_continuous_frontend_by_speaker": by_real_streamed,
        "real_voice_predictions_by_speaker": {
            s: [classes[p] for p in real_pred_loso[np.array(real.speaker_ids) == s]] for s in by_real},
        "class_accuracy_by_speaker": by_class,
        "class_accuracy_mean": float(np.mean(list(by_class.values()))) if by_class else None,
        "class_speakers": sorted(set(class_test.speaker_ids)) if class_test is not None else [],
        "real_voice_correct": int(np.sum(allison_pred == allison_y)), "real_voice_clips": len(allison),
        "real_voice_predictions": {w: classes[p] for w, p in zip(allison.labels, allison_pred)},
        "eer": curve.eer, "eer_threshold": curve.eer_threshold,
        "false_accept_rate_at_0.5": fa_half, "false_reject_rate_at_0.5": fr_half,
        "model_bytes": len(model_bytes), "model_flash_bytes": flash.flash_bytes,
        "arena_bytes": arena.arena_bytes, "arena_method": arena.method,
        "train_seconds": result.seconds, "config": config_dict,
    }
    report["seconds"] = round(time.perf_counter() - start, 2)
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    real_text = (f"real voices never heard {report['real_voice_accuracy_mean']:.3f} (mean of "
                 f"{', '.join(f'{s} {a:.3f}' for s, a in by_real.items())}); " if by_real else "")
    log(f"Done in {report['seconds']:.0f} s: int8 {int8_acc:.3f} on synthetic test speakers "
        f"(float {float_acc:.3f}); {real_text}Allison {report['real_voice_correct']}/{len(allison)}; "
        f"model {len(model_bytes):,} B, arena {arena.arena_bytes:,} B. Report: {out_dir / 'report.json'}")
    return report


#: Keys every vision ``report.json`` has.
VISION_REPORT_KEYS = ("dataset", "train_images", "test_images", "float_accuracy", "int8_accuracy",
                      "accuracy_drop_points", "model_bytes", "arena_bytes", "person_detection",
                      "boards", "seconds")
#: RAM for one camera frame in the sketches, bytes: QQVGA 160×120 at 8-bit grayscale, the
#: smallest frame both kits' camera drivers deliver (Arduino_OV767X: QQVGA; esp32-camera:
#: FRAMESIZE_QQVGA) and large enough for the 96×96 centre crop.
CAMERA_FRAME_BYTES = 160 * 120


@dataclasses.dataclass(frozen=True)
class VisionConfig:
    """Settings of the vision pipeline (:func:`run_vision`); the defaults are the course's reference.

    Attributes:
        image_size: model input side, pixels (Fashion-MNIST's 28×28 padded to 32×32; a camera
            frame's 96×96 centre shrunk by 3).
        filters: see :func:`tinymlkit.models.build_image_cnn`.
        epochs, batch_size, learning_rate: see :func:`tinymlkit.train.train_classifier`.
        representative_samples: training images in the PTQ representative dataset.
        subset: True: the subset shipped in the package; None: the full set when installed.
        seed: for every random choice.
    """

    image_size: int = 32
    filters: tuple[int, ...] = (16, 32, 32)
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 2e-3
    representative_samples: int = 300
    subset: bool | None = None
    seed: int = 0


def run_vision(out_dir: str | pathlib.Path = "build/vision", config: VisionConfig = VisionConfig(), *,
               progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """The vision track end to end: Fashion-MNIST → small CNN → int8 PTQ → TFLM → arena → C files,
    then the TFLM person-detection model on its reference images, and the fit on every kit.

    Writes into ``out_dir``: ``model_int8.tflite``, ``model_data.cc``, ``model_data.h``,
    ``model_settings.h``, ``model_settings.json``, ``confusion_matrix.png`` and ``report.json``
    (each atomically).

    Args:
        out_dir: output folder (created).
        config: a :class:`VisionConfig`.
        progress: progress bars for training and inference.
        log: where the human summary goes (``print`` by default).

    Returns:
        The report dict written to ``report.json`` (keys: :data:`VISION_REPORT_KEYS` and more).

    Raises:
        tinymlkit.datasets.DatasetError: Fashion-MNIST cannot be read (the message says how to
            install it).
    """
    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    steps = 7

    def step(k: int, text: str) -> None:
        log(f"[{k}/{steps}] {text}")

    step(1, "Loading Fashion-MNIST")
    train = load_fashion_mnist("train", subset=config.subset)
    test = load_fashion_mnist("test", subset=config.subset)
    size = (config.image_size, config.image_size)
    x_train = normalize_pixels(pad_images(train.images, size))
    test_pixels = pad_images(test.images, size)
    log(f"      train: {train.summary()}; test: {len(test)} images (other products than training)")
    if train.source != "fashion-mnist":
        log("      (the shipped subset: the full set is not installed, so accuracy will be lower; "
            "sudo apt-get install dataset-fashion-mnist)")

    step(2, f"Training a small CNN for {config.epochs} epochs (seed {config.seed})")
    model = build_image_cnn(len(train.class_names), input_shape=size, filters=config.filters,
                            seed=config.seed)
    result = train_classifier(model, x_train, train.labels, epochs=config.epochs,
                              batch_size=config.batch_size, learning_rate=config.learning_rate,
                              seed=config.seed, progress=progress)
    float_pred = predict_classes(model, normalize_pixels(test_pixels))
    float_acc = float(np.mean(float_pred == test.labels))
    log(f"      {count_parameters(model):,} parameters, {result.seconds:.0f} s; float test accuracy {float_acc:.3f}")

    step(3, "Quantizing to int8 (post-training, representative dataset from training images)")
    model_bytes = quantize_int8(model, x_train, n_samples=config.representative_samples, seed=config.seed)
    io_ = model_io(model_bytes)
    check_pixel_quant(io_.input_quant)
    log(f"      {len(model_bytes):,} bytes; input scale {io_.input_quant.scale:.6f} (1/128), zero point "
        f"{io_.input_quant.zero_point}: the int8 input is pixel - 128")

    step(4, f"Running the int8 model in the TFLM interpreter on the {len(test)} test images")
    x_test_q = pixels_to_int8(test_pixels)
    out_tflm, runtime = predict_int8(model_bytes, x_test_q, progress=progress)
    int8_pred = out_tflm.argmax(1)
    int8_acc = float(np.mean(int8_pred == test.labels))
    agreement = float(np.mean(litert_predict(model_bytes, x_test_q).argmax(1) == int8_pred))
    log(f"      int8 accuracy ({runtime}) {int8_acc:.3f} (float {float_acc:.3f}, "
        f"{100 * (float_acc - int8_acc):+.1f} points lost); same class as LiteRT in {agreement:.1%}")

    step(5, "Measuring the tensor arena and exporting C files")
    arena = measure_arena(model_bytes)
    settings = ImageModelSettings(labels=train.class_names, height=config.image_size,
                                  width=config.image_size, input_quant=io_.input_quant,
                                  output_quant=io_.output_quant, arena_bytes=arena.arena_bytes,
                                  arena_method=arena.method, crop_size=3 * config.image_size, downsample=3)
    files = write_model_files(out_dir, model_bytes, settings)
    _save_figure(plot_confusion_matrix(test.labels, int8_pred, train.class_names,
                                       title=f"int8 in {runtime.upper()}, Fashion-MNIST test: {int8_acc:.3f}"),
                 out_dir / "confusion_matrix.png")
    log(f"      arena {arena.arena_bytes:,} bytes ({arena.method}); "
        f"{', '.join(p.name for p in files.values())}, confusion_matrix.png → {out_dir}/")

    step(6, "Person detection (the TFLM example's model) on its two reference images")
    examples = load_person_detect_examples()
    detected = detect_person(examples.images)
    person_bytes = person_detect_model()
    person_arena = measure_arena(person_bytes)
    for name, out, said in zip(examples.class_names, detected.outputs, detected.is_person):
        log(f"      {name} image: outputs [no person, person] = {out.tolist()} → "
            f"{'person' if said else 'no person'}")
    log(f"      {len(person_bytes):,} bytes, arena {person_arena.arena_bytes:,} bytes in TFLM on this "
        f"64-bit host (the example reserves {PERSON_DETECT_EXAMPLE_ARENA_BYTES:,})")

    step(7, "Checking the fit on every kit (model + arena + one 160×120 grayscale frame)")
    flash = measure_model_flash(files["source"], len(model_bytes))
    boards = boards_mod.load_boards()
    fits = fit_report(flash.flash_bytes, sketch_arena_bytes(arena.arena_bytes), CAMERA_FRAME_BYTES, boards)
    person_fits = fit_report(len(person_bytes), sketch_arena_bytes(person_arena.arena_bytes),
                             CAMERA_FRAME_BYTES, boards)
    log("      image classifier:\n" + format_fit_table(fits))
    log("      person detection:\n" + format_fit_table(person_fits))

    report = {
        "dataset": {"name": "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017)", "source": train.source,
                    "classes": list(train.class_names)},
        "train_images": len(train),
        "test_images": len(test),
        "image_size": config.image_size,
        "parameters": count_parameters(model),
        "float_accuracy": float_acc,
        "int8_accuracy": int8_acc,
        "accuracy_drop_points": round(100 * (float_acc - int8_acc), 2),
        "int8_runtime": runtime,
        "litert_argmax_agreement": agreement,
        "model_bytes": len(model_bytes),
        "model_flash_bytes": flash.flash_bytes,
        "arena_bytes": arena.arena_bytes,
        "arena_allocated_bytes": sketch_arena_bytes(arena.arena_bytes),
        "arena_method": arena.method,
        "camera_frame_bytes": CAMERA_FRAME_BYTES,
        "input_quantization": dataclasses.asdict(io_.input_quant),
        "output_quantization": dataclasses.asdict(io_.output_quant),
        "train_seconds": result.seconds,
        "person_detection": {
            "model_bytes": len(person_bytes), "arena_bytes": person_arena.arena_bytes,
            "arena_method": person_arena.method,
            "example_arena_bytes": PERSON_DETECT_EXAMPLE_ARENA_BYTES,
            "reference_outputs": {name: out.tolist() for name, out in zip(examples.class_names, detected.outputs)},
            "reference_correct": bool(np.array_equal(detected.is_person, examples.labels == 1)),
            "boards": {bid: {"fits": r.fits, "flash_bytes": r.flash_bytes, "ram_bytes": r.ram_bytes,
                             "message": r.message} for bid, r in person_fits.items()},
        },
        "config": dataclasses.asdict(config),
        "boards": {bid: {"fits": r.fits, "flash_bytes": r.flash_bytes, "ram_bytes": r.ram_bytes,
                         "message": r.message} for bid, r in fits.items()},
    }
    report["seconds"] = round(time.perf_counter() - start, 2)
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    log(f"Done in {report['seconds']:.0f} s: int8 accuracy {int8_acc:.3f} (float {float_acc:.3f}), model "
        f"{len(model_bytes):,} B, arena {arena.arena_bytes:,} B; person detection "
        f"{'right' if report['person_detection']['reference_correct'] else 'WRONG'} on both reference "
        f"images. Report: {out_dir / 'report.json'}")
    return report



#: Keys every anomaly ``report.json`` has.
ANOMALY_REPORT_KEYS = ("motion", "ecg", "model_bytes", "arena_bytes", "thresholds", "boards", "seconds")


@dataclasses.dataclass(frozen=True)
class AnomalyConfig:
    """Settings of the anomaly track (:func:`run_anomaly`); the defaults are the course's reference.

    Attributes:
        held_out: exercises the motion detector never trains on (anomalies at test time).
        window_ms, stride_ms: motion windows and hop, in ms (a window every second on the kit).
        n_clusters: K of the motion K-means.
        hidden: the motion autoencoder's encoder widths (the last is the bottleneck).
        epochs, batch_size, learning_rate: autoencoder training (:func:`tinymlkit.train.train_autoencoder`).
        false_alarms_per_hour: the alarm budget the thresholds are set for on normal validation
            windows: a share ``false_alarms_per_hour * stride_s / 3600`` of them may alarm (10 per
            hour at one window per second = 0.28 %).
        ecg_clusters, ecg_hidden, ecg_epochs: the ECG detectors (14 training beats: tiny).
        seed: every random choice.
    """

    held_out: tuple[str, ...] = anomaly_mod.MOTION_HELD_OUT_CLASSES
    window_ms: float = 2000.0
    stride_ms: float = 1000.0
    n_clusters: int = 8
    hidden: tuple[int, ...] = (16, 6)
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    false_alarms_per_hour: float = 10.0
    ecg_clusters: int = 2
    ecg_hidden: tuple[int, ...] = (8, 3)
    ecg_epochs: int = 200
    seed: int = 0


def _anomaly_reports(scores: dict, data, thresholds: dict) -> dict:
    return {name: anomaly_mod.evaluate_scores(s, data.test_anomalous, thresholds[name].value,
                                              data.seconds_per_example, data.test_kind)
            for name, s in scores.items()}


def run_anomaly(out_dir: str | pathlib.Path = "build/anomaly", config: AnomalyConfig = AnomalyConfig(), *,
                progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """The anomaly track end to end (issue #17): motion windows → K-means and an autoencoder on
    normal data → thresholds on normal validation data → AUC and false alarms per hour on unseen
    people, held-out exercises and sensor faults → int8 PTQ → TFLM → C files for
    ``anomaly_inference``; and the same two detectors on the MIT-BIH ECG excerpt.

    Writes into ``out_dir``: ``model_int8.tflite``, ``model_data.cc``, ``model_data.h``,
    ``model_settings.h``, ``model_settings.json``, ``roc.png``, ``scores.png``,
    ``ecg_scores.png`` and ``report.json`` (each atomically).

    Args:
        out_dir: output folder (created).
        config: an :class:`AnomalyConfig`.
        progress: progress bars for training and inference.
        log: where the human summary goes.

    Returns:
        The report dict (keys :data:`ANOMALY_REPORT_KEYS` and more).
    """
    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = 7

    def step(k: int, text: str) -> None:
        log(f"[{k}/{steps}] {text}")

    step(1, "Loading the smartwatch exercises: normal = trained exercises; anomalies = held-out exercises and sensor faults")
    ds = load_motion()
    data = anomaly_mod.motion_anomaly_data(ds, held_out=config.held_out, window_ms=config.window_ms,
                                           stride_ms=config.stride_ms, seed=config.seed)
    log(f"      {data.summary()}")
    rate = config.false_alarms_per_hour * data.seconds_per_example / 3600.0
    scaler = anomaly_mod.fit_feature_scaler(data.train)
    z_train, z_val, z_test = (scaler.apply(f) for f in (data.train, data.val, data.test))

    step(2, f"K-means with {config.n_clusters} clusters on normal training windows")
    kmeans = anomaly_mod.KMeansDetector(config.n_clusters, seed=config.seed).fit(z_train)

    step(3, f"Training a dense autoencoder for {config.epochs} epochs (seed {config.seed})")
    model = build_autoencoder(z_train.shape[1], hidden=config.hidden, seed=config.seed)
    trained = train_autoencoder(model, z_train, epochs=config.epochs, batch_size=config.batch_size,
                                learning_rate=config.learning_rate, x_val=z_val, seed=config.seed,
                                progress=progress)
    log(f"      {count_parameters(model):,} parameters, {trained.seconds:.0f} s")

    step(4, "Quantizing the autoencoder to int8 and scoring in the TFLM interpreter")
    model_bytes = quantize_int8(model, z_train, seed=config.seed)
    val_scores = {"kmeans": kmeans.score(z_val), "autoencoder_float": anomaly_mod.autoencoder_scores(model, z_val),
                  "autoencoder_int8": anomaly_mod.int8_autoencoder_scores(model_bytes, z_val)[0]}
    int8_test, _, _, runtime = anomaly_mod.int8_autoencoder_scores(model_bytes, z_test, progress=progress)
    test_scores = {"kmeans": kmeans.score(z_test), "autoencoder_float": anomaly_mod.autoencoder_scores(model, z_test),
                   "autoencoder_int8": int8_test}
    thresholds = {k: anomaly_mod.choose_threshold(v, rate) for k, v in val_scores.items()}
    reports = _anomaly_reports(test_scores, data, thresholds)
    for name, r in reports.items():
        held = [r.auc_by_kind[f"exercise:{c}"] for c in config.held_out]
        log(f"      {name:18s} AUC {r.auc:.3f} (held-out exercises {min(held):.3f}); at the threshold "
            f"{r.detection_rate:.1%} of anomalies found, {r.false_alarms_per_hour:.1f} false alarms per hour")
    arena = measure_arena(model_bytes)
    log(f"      {len(model_bytes):,} bytes ({runtime}), tensor arena {arena.arena_bytes:,} bytes")

    step(5, "The ECG excerpt (MIT-BIH record 100): heartbeats, split in time")
    ecg = anomaly_mod.ecg_anomaly_data()
    log(f"      {ecg.summary()}")
    ecg_scaler = anomaly_mod.fit_feature_scaler(ecg.train)
    e_train, e_val, e_test = (ecg_scaler.apply(f) for f in (ecg.train, ecg.val, ecg.test))
    ecg_km = anomaly_mod.KMeansDetector(config.ecg_clusters, seed=config.seed).fit(e_train)
    ecg_model = build_autoencoder(e_train.shape[1], hidden=config.ecg_hidden, seed=config.seed)
    train_autoencoder(ecg_model, e_train, epochs=config.ecg_epochs, batch_size=8, seed=config.seed, progress=False)
    ecg_scores = {"kmeans": (ecg_km.score(e_val), ecg_km.score(e_test)),
                  "autoencoder_float": (anomaly_mod.autoencoder_scores(ecg_model, e_val),
                                        anomaly_mod.autoencoder_scores(ecg_model, e_test))}
    # Four validation beats: the threshold is (all but) their largest score; any lower quantile
    # would alarm on a normal validation beat by construction.
    ecg_thr = {k: anomaly_mod.choose_threshold(v, 1e-6) for k, (v, _) in ecg_scores.items()}
    ecg_reports = {k: anomaly_mod.evaluate_scores(t, ecg.test_anomalous, ecg_thr[k].value,
                                                  ecg.seconds_per_example, ecg.test_kind)
                   for k, (_, t) in ecg_scores.items()}
    for name, r in ecg_reports.items():
        log(f"      {name:18s} AUC {r.auc:.3f} on {len(ecg.test)} test beats ({int(ecg.test_anomalous.sum())} "
            f"anomalous): too few to generalise from")

    step(6, "Exporting C files for anomaly_inference (model, centroids, thresholds)")
    normal = tuple(c for c in ds.class_names if c not in config.held_out)
    settings = anomaly_mod.anomaly_settings(
        scaler, kmeans, model_bytes, autoencoder_threshold=thresholds["autoencoder_int8"].value,
        kmeans_threshold=thresholds["kmeans"].value, window_samples=data.train_windows.shape[1],
        stride_samples=ms_to_samples(config.stride_ms, ds.sample_rate_hz), sample_rate_hz=ds.sample_rate_hz,
        channel_names=ds.channel_names, normal_classes=normal)
    files = write_model_files(out_dir, model_bytes, settings)
    curves = {name: (r.fpr, r.tpr, r.auc) for name, r in reports.items()}
    marks = {name: (r.false_alarm_rate, r.detection_rate) for name, r in reports.items()}
    _save_figure(plot_roc(curves, marks=marks, title="motion: unseen people, held-out exercises, sensor faults"),
                 out_dir / "roc.png")
    _save_figure(plot_anomaly_scores(int8_test, thresholds["autoencoder_int8"].value, kinds=data.test_kind,
                                     title="int8 autoencoder in TFLM: test windows by kind"),
                 out_dir / "scores.png")
    _save_figure(plot_anomaly_scores(ecg_scores["kmeans"][1], ecg_thr["kmeans"].value,
                                     anomalous=ecg.test_anomalous, time_s=ecg.test_time_s,
                                     title="ECG test beats (MIT-BIH record 100): K-means distance"),
                 out_dir / "ecg_scores.png")
    log(f"      {', '.join(p.name for p in files.values())}, roc.png, scores.png, ecg_scores.png → {out_dir}/")

    step(7, "Checking the fit on every kit")
    flash = measure_model_flash(files["source"], len(model_bytes))
    # the sketch's float window and the settings' constant arrays (in flash, counted as buffers
    # here to stay on the safe side)
    buffer_bytes = settings.window_samples * len(ds.channel_names) * 4 + \
        4 * settings.n_features * (2 + len(settings.centroids))
    fits = fit_report(flash.flash_bytes, sketch_arena_bytes(arena.arena_bytes), buffer_bytes,
                      boards_mod.load_boards())
    log(format_fit_table(fits))

    report = {
        "motion": {"description": data.description, "train_windows": len(data.train),
                   "validation_windows": len(data.val), "test_windows": len(data.test),
                   "test_anomalous": int(data.test_anomalous.sum()),
                   "seconds_per_window": data.seconds_per_example,
                   "false_alarm_rate_target": rate,
                   **{name: r.to_dict() for name, r in reports.items()}},
        "ecg": {"description": ecg.description, "train_beats": len(ecg.train), "validation_beats": len(ecg.val),
                "test_beats": len(ecg.test), "test_anomalous": int(ecg.test_anomalous.sum()),
                **{name: r.to_dict() for name, r in ecg_reports.items()}},
        "thresholds": {name: dataclasses.asdict(t) for name, t in thresholds.items()},
        "parameters": count_parameters(model),
        "train_seconds": trained.seconds,
        "int8_runtime": runtime,
        "model_bytes": len(model_bytes),
        "model_flash_bytes": flash.flash_bytes,
        "arena_bytes": arena.arena_bytes,
        "arena_method": arena.method,
        "arena_allocated_bytes": sketch_arena_bytes(arena.arena_bytes),
        "buffer_bytes": buffer_bytes,
        "input_quantization": dataclasses.asdict(settings.input_quant),
        "output_quantization": dataclasses.asdict(settings.output_quant),
        "config": dataclasses.asdict(config),
        "boards": {bid: {"fits": r.fits, "flash_bytes": r.flash_bytes, "ram_bytes": r.ram_bytes,
                         "message": r.message} for bid, r in fits.items()},
    }
    report["seconds"] = round(time.perf_counter() - start, 2)
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    r8 = reports["autoencoder_int8"]
    log(f"Done in {report['seconds']:.0f} s: int8 autoencoder AUC {r8.auc:.3f} (K-means "
        f"{reports['kmeans'].auc:.3f}) on unseen people; {r8.false_alarms_per_hour:.1f} false alarms per hour; "
        f"ECG AUC {ecg_reports['kmeans'].auc:.3f} on {len(ecg.test)} beats; model {len(model_bytes):,} B, "
        f"arena {arena.arena_bytes:,} B. Report: {out_dir / 'report.json'}")
    return report
