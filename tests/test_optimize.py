"""tinymlkit.optimize (QAT, magnitude pruning, knowledge distillation) and plots.plot_tradeoff,
on a small slice of the shipped motion dataset; every int8 model runs in the real TFLM."""

import keras
import numpy as np
import pytest

from tinymlkit import datasets, features, models, optimize, plots, quantize, tflm, train

N_CLASSES = 7


@pytest.fixture(scope="module")
def data(motion):
    """Normalised training windows (stride 25) and unseen-people test windows (stride 50)."""
    tr, te = datasets.subject_split(motion.subject_ids)
    a = features.window_recordings(motion.recordings, motion.labels, motion.subject_ids, 100, 25,
                                   sides=motion.sides, indices=tr)
    b = features.window_recordings(motion.recordings, motion.labels, motion.subject_ids, 100, 50,
                                   sides=motion.sides, indices=te)
    norm = features.fit_normalization(a.x)
    return norm.apply(a.x), a.y, norm.apply(b.x), b.y


@pytest.fixture(scope="module")
def teacher(data):
    x, y, _, _ = data
    model = models.build_cnn1d(100, 6, N_CLASSES, filters=12, seed=0)
    train.train_classifier(model, x, y, epochs=4, progress=False)
    return model


def _int8_predict(model_bytes, x):
    io_ = quantize.model_io(model_bytes)
    assert io_.input_dtype == np.int8 and io_.output_dtype == np.int8
    out, runtime = tflm.predict_int8(model_bytes, quantize.quantize(x, io_.input_quant))
    return out.argmax(1), runtime


def test_tf_keras_copy_computes_the_same_logits(teacher, data):
    x_test = data[2][:200]
    copy = optimize.to_tf_keras(teacher)
    np.testing.assert_allclose(copy.predict(x_test, verbose=0), teacher.predict(x_test, verbose=0),
                               atol=1e-4)


def test_qat_int8_model_runs_in_tflm_and_agrees_with_its_fake_quant_model(teacher, data):
    x, y, x_test, y_test = data
    result = optimize.quantization_aware_training(teacher, x, y, epochs=1)
    pred_int8, runtime = _int8_predict(result.tflite, x_test)
    pred_fake = result.qat_model.predict(x_test, verbose=0).argmax(1)
    assert runtime == "tflm"
    assert np.mean(pred_int8 == pred_fake) >= 0.95
    assert np.mean(pred_int8 == y_test) > 3 / N_CLASSES  # learned, well above chance (1/7)
    assert tflm.measure_arena(result.tflite).arena_bytes > 0


@pytest.mark.parametrize("target", [0.5, 0.8])
def test_pruning_reaches_target_sparsity_and_compresses(teacher, data, target):
    x, y, x_test, y_test = data
    result = optimize.prune_magnitude(teacher, x, y, target_sparsity=target, epochs=2)
    assert isinstance(result.model, keras.Model)
    assert result.sparsity == pytest.approx(target, abs=0.02)
    assert optimize.sparsity(result.model) == result.sparsity
    assert optimize.sparsity(teacher) < 0.01  # the teacher itself was not changed
    dense = quantize.quantize_int8(teacher, x)
    pruned = quantize.quantize_int8(result.model, x)
    # TFLM stores every zero: same flatbuffer size, but it compresses much better
    assert abs(len(pruned) - len(dense)) < 0.05 * len(dense)
    assert optimize.compressed_bytes(pruned) < (1 - target / 3) * optimize.compressed_bytes(dense)
    pred, runtime = _int8_predict(pruned, x_test)
    assert runtime == "tflm" and np.mean(pred == y_test) > 2 / N_CLASSES


def test_distillation_loss_is_hintons_formula():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 8)
    t_logits, s_logits = rng.normal(size=(8, 5)) * 3, rng.normal(size=(8, 5)) * 3
    temperature, alpha = 3.0, 0.25

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p_t, p_s = softmax(t_logits / temperature), softmax(s_logits / temperature)
    kl = np.sum(p_t * np.log(p_t / p_s), axis=1)
    ce = -np.log(softmax(s_logits)[np.arange(8), labels])
    expected = alpha * ce + (1 - alpha) * temperature ** 2 * kl
    loss = optimize.distillation_loss(temperature, alpha)
    y_true = np.concatenate([labels[:, None], t_logits], axis=1).astype(np.float32)
    got = keras.ops.convert_to_numpy(loss(y_true, s_logits.astype(np.float32)))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # a student equal to the teacher pays only the hard-label term
    same = keras.ops.convert_to_numpy(loss(y_true, t_logits.astype(np.float32)))
    np.testing.assert_allclose(same, alpha * -np.log(softmax(t_logits)[np.arange(8), labels]),
                               rtol=1e-4)


def test_distilled_student_copies_the_teacher_and_runs_in_tflm(teacher, data):
    x, y, x_test, _ = data
    student = models.build_cnn1d(100, 6, N_CLASSES, filters=4, seed=1, name="student")
    assert models.count_parameters(student) < models.count_parameters(teacher) / 3
    optimize.distill(teacher, student, x, y, epochs=6)
    teacher_pred = train.predict_classes(teacher, x_test)
    agreement = np.mean(train.predict_classes(student, x_test) == teacher_pred)
    assert agreement > 3 / N_CLASSES  # chance agreement would be about 1/7
    pred, runtime = _int8_predict(quantize.quantize_int8(student, x), x_test)
    assert runtime == "tflm" and np.mean(pred == teacher_pred) > 3 / N_CLASSES


def test_errors_name_the_fault(teacher, data):
    x, y, _, _ = data
    with pytest.raises(ValueError, match="target_sparsity"):
        optimize.prune_magnitude(teacher, x, y, target_sparsity=1.0)
    with pytest.raises(ValueError, match="temperature"):
        optimize.distillation_loss(temperature=0)
    with pytest.raises(ValueError, match="labels"):
        optimize.quantization_aware_training(teacher, x, np.full(len(x), N_CLASSES))
    lstm = keras.Sequential([keras.Input((100, 6)), keras.layers.LSTM(4), keras.layers.Dense(7)])
    with pytest.raises(ValueError, match="LSTM"):
        optimize.to_tf_keras(lstm)
    with pytest.raises(ValueError, match="same input and output"):
        optimize.distill(teacher, models.build_cnn1d(100, 6, 5), x, y)


def test_compressed_bytes_shrinks_zeros_not_noise():
    zeros = bytes(10_000)
    noise = np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    assert optimize.compressed_bytes(zeros) < 100
    assert optimize.compressed_bytes(noise) > 9_900


def test_plot_tradeoff_draws_every_model_and_compressed_sizes():
    fig = plots.plot_tradeoff(["float", "int8", "pruned"], [40_000, 12_000, 12_000],
                              [0.9, 0.88, 0.8], [5000, 4000, 4000],
                              compressed_bytes={"pruned": 5000})
    ax = fig.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(offsets) == 4  # three models + one compressed marker
    assert [5.0, 80.0] in offsets.tolist() and [40.0, 90.0] in offsets.tolist()
    with pytest.raises(ValueError, match="fractions"):
        plots.plot_tradeoff(["a"], [1], [90], [1])
    with pytest.raises(ValueError, match="one value per model"):
        plots.plot_tradeoff(["a", "b"], [1], [0.5], [1])
    with pytest.raises(ValueError, match="not in names"):
        plots.plot_tradeoff(["a"], [1], [0.5], [1], compressed_bytes={"b": 1})
