"""Stage 4 — train: seeded, deterministic training and evaluation of Keras models.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Training"); transfer learning and active
learning in ``modules/08_learning_with_little_data.ipynb``, federated averaging in
``modules/10_federated_learning.ipynb``. Imports only earlier stages.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

__all__ = ["TrainResult", "set_seed", "train_autoencoder", "train_classifier", "predict_classes", "transfer_model",
           "head_features", "fit_head", "UNCERTAINTY_MEASURES", "uncertainty_sampling", "federated_average", "FederatedResult",
           "train_federated"]


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic.

    Called explicitly (``tk.setup(seed=0)`` or by :func:`train_classifier`), never as a side
    effect of import. With the same seed, data and package versions, training on the CPU gives
    the same weights every run (``tf.config.experimental.enable_op_determinism``).
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)  # seeds `random`, NumPy and TensorFlow
    tf.config.experimental.enable_op_determinism()


@dataclasses.dataclass
class TrainResult:
    """What training produced.

    Attributes:
        model: the trained ``keras.Model``.
        history: per-epoch metrics, e.g. ``{"loss": [...], "accuracy": [...], "val_accuracy": [...]}``.
        seconds: wall time of ``fit`` in s.
    """

    model: keras.Model
    history: dict[str, list[float]]
    seconds: float


def train_classifier(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, *,
                     epochs: int = 30, batch_size: int = 64, learning_rate: float = 2e-3,
                     validation: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
                     progress: bool = True) -> TrainResult:
    """Compile and train a classifier that outputs logits, with Adam and softmax cross-entropy.

    The learning rate decays on a cosine schedule to 0 over all epochs, so the last epoch is
    the final model (no early stopping that would need a peek at test data).

    Args:
        model: a model whose output is ``(None, n_classes)`` logits (no softmax layer).
        x_train: ``(n_windows, window, n_channels)`` float32, already normalised.
        y_train: ``(n_windows,)`` int class indices.
        epochs, batch_size: training length; ``learning_rate`` is the initial Adam step.
        validation: optional ``(x, y)`` evaluated after each epoch for the training curve only
            (it never changes training).
        seed: passed to :func:`set_seed` before training.
        progress: show a tqdm progress bar per epoch (in a notebook or a terminal).

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: ``x_train`` and ``y_train`` lengths differ, or a label is outside the model's
            classes.
    """
    import time

    x_train = np.asarray(x_train, dtype=np.float32)
    y_train = np.asarray(y_train, dtype=np.int64)
    if len(x_train) != len(y_train):
        raise ValueError(f"x_train has {len(x_train)} windows but y_train has {len(y_train)} labels")
    n_classes = int(model.output_shape[-1])
    if y_train.min() < 0 or y_train.max() >= n_classes:
        raise ValueError(f"labels must be 0..{n_classes - 1} for this model, got "
                         f"{y_train.min()}..{y_train.max()}")
    set_seed(seed)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    # 16 steps per call cuts Keras' per-step overhead, which dominates for tiny models on a CPU.
    # (No XLA: Keras disables it under op determinism.)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=16)
    callbacks = []
    if progress:
        from tqdm.keras import TqdmCallback
        callbacks.append(TqdmCallback(verbose=0, desc="training", unit="epoch"))
    start = time.perf_counter()
    hist = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
                     validation_data=validation, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return TrainResult(model=model, history=history, seconds=seconds)


def train_autoencoder(model: keras.Model, x_train: np.ndarray, *, epochs: int = 60,
                      batch_size: int = 32, learning_rate: float = 3e-3,
                      x_val: np.ndarray | None = None, seed: int = 0,
                      progress: bool = True) -> TrainResult:
    """Train an autoencoder to rebuild its input (mean squared error, Adam, cosine decay to 0).

    Args:
        model: input and output of the same shape (:func:`tinymlkit.models.build_autoencoder`).
        x_train: ``(n, n_features)`` float32 **normal** examples, standardised.
        epochs, batch_size, learning_rate: as :func:`train_classifier`.
        x_val: optional normal validation examples; their loss is recorded per epoch for the
            training curve only.
        seed: passed to :func:`set_seed`.
        progress: a tqdm bar per epoch.

    Returns:
        A :class:`TrainResult` (``history["loss"]``, and ``"val_loss"`` with ``x_val``).

    Raises:
        ValueError: ``x_train``'s shape differs from the model's input.
    """
    import time

    x_train = np.asarray(x_train, dtype=np.float32)
    if x_train.ndim < 2 or tuple(x_train.shape[1:]) != tuple(model.input_shape[1:]):
        raise ValueError(f"x_train has shape {x_train.shape}; the model takes "
                         f"{tuple(model.input_shape[1:])} per example")
    set_seed(seed)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", steps_per_execution=16)
    callbacks = []
    if progress:
        from tqdm.keras import TqdmCallback
        callbacks.append(TqdmCallback(verbose=0, desc="training the autoencoder", unit="epoch"))
    validation = None if x_val is None else (np.asarray(x_val, np.float32), np.asarray(x_val, np.float32))
    start = time.perf_counter()
    hist = model.fit(x_train, x_train, epochs=epochs, batch_size=batch_size, shuffle=True,
                     validation_data=validation, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    return TrainResult(model=model, history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
                       seconds=seconds)


def predict_classes(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class index per window from a float Keras model (argmax of its logits).

    Args:
        x: ``(n_windows, window, n_channels)`` float32, normalised like the training data.

    Returns:
        ``(n_windows,)`` int64.
    """
    logits = model.predict(np.asarray(x, dtype=np.float32), batch_size=batch_size, verbose=0)
    return logits.argmax(axis=1).astype(np.int64)


# --- federated learning: FedAvg (modules/10_federated_learning.ipynb) ----------------------------

def transfer_model(base: keras.Model, n_classes: int, *, freeze: bool = True, seed: int = 0,
                   name: str | None = None) -> keras.Model:
    """Transfer learning: ``base``'s layers as a feature extractor, with a new classifier.

    A copy of ``base`` (its weights included; ``base`` itself is never changed) up to the input
    of its last layer, followed by a new ``Dense(n_classes)`` layer giving logits. With
    ``freeze`` the copied layers are not trained (``trainable = False``; batch normalisation then
    keeps its learned statistics), so only the new layer learns: the usual recipe when the new
    task has few labelled windows (Yosinski et al., "How transferable are features in deep
    neural networks?", NeurIPS 2014). Train it with :func:`train_classifier`.

    Args:
        base: a trained model whose last layer is its classifier (e.g.
            :func:`tinymlkit.models.build_cnn1d`), input ``(None, window, n_channels)``.
        n_classes: classes of the new task.
        freeze: keep the copied layers fixed (True) or fine-tune them too (False; use a small
            ``learning_rate``).
        seed: seeds the new layer's initializer.
        name: Keras name of the new model (default ``<base>_transfer``).

    Returns:
        An uncompiled ``keras.Model``: same input as ``base``, output ``(None, n_classes)`` float32
        logits.

    Raises:
        ValueError: ``n_classes`` < 2, or ``base`` has fewer than two layers after its input.
    """
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got n_classes={n_classes}")
    layers = [layer for layer in base.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(layers) < 2:
        raise ValueError(f"model '{base.name}' has {len(layers)} layer(s): transfer learning needs "
                         "feature layers and a classifier layer to replace")
    copy = keras.models.clone_model(base)
    copy.set_weights(base.get_weights())
    features = copy.layers[-1].input
    for layer in copy.layers[:-1]:
        layer.trainable = not freeze
    logits = keras.layers.Dense(n_classes, name="transfer_logits",
                                kernel_initializer=keras.initializers.GlorotUniform(seed))(features)
    return keras.Model(copy.input, logits, name=name or f"{base.name}_transfer")


def head_features(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """What ``model``'s last layer sees: the feature vectors of the frozen layers.

    Args:
        model: any model (e.g. from :func:`transfer_model`); all layers but the last are run,
            in inference mode.
        x: ``(n_windows, window, n_channels)`` float32, normalised as the model expects.

    Returns:
        ``(n_windows, n_features)`` float32 (``n_features`` = the last layer's input width).

    Raises:
        ValueError: ``x`` holds no window.
    """
    # called eagerly in chunks: predict() would trace a new function for every new model
    extractor = keras.Model(model.input, model.layers[-1].input)
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        raise ValueError("no windows to compute features for (x is empty)")
    return np.concatenate([np.asarray(extractor(x[i:i + 1024], training=False))
                           for i in range(0, len(x), 1024)]).astype(np.float32)


def fit_head(model: keras.Model, x: np.ndarray, y: np.ndarray, *, c: float = 1.0) -> keras.Model:
    """Fit only the last (``Dense``) layer of ``model`` by logistic regression, in place.

    The windows go through every layer but the last to give feature vectors; a multinomial
    logistic regression (scikit-learn ``LogisticRegression``, L2 penalty, lbfgs) is fitted on them
    and its coefficients become the last layer's kernel and bias, so the model's logits are the
    regression's. With a frozen :func:`transfer_model` this is a *linear probe*: seconds instead
    of a training run, deterministic, and it needs only a few labelled windows per class.

    Args:
        model: a model whose last layer is ``Dense(n_classes)`` with a bias and no activation
            (e.g. from :func:`transfer_model`).
        x: ``(n_windows, window, n_channels)`` float32, normalised as the model expects.
        y: ``(n_windows,)`` int class indices in ``0 .. n_classes - 1``; every class at least once.
        c: inverse of the L2 regularisation strength (scikit-learn's ``C``); smaller is stronger.

    Returns:
        ``model`` itself, its last layer's weights replaced.

    Raises:
        ValueError: lengths differ, a class has no window or a label is out of range, or the last
            layer is not a ``Dense`` layer with a bias and no activation.
    """
    from sklearn.linear_model import LogisticRegression

    head = model.layers[-1]
    if (not isinstance(head, keras.layers.Dense) or not head.use_bias
            or head.activation is not keras.activations.linear):
        raise ValueError(f"the last layer of '{model.name}' must be a Dense layer with a bias and no "
                         f"activation to hold logits; it is {type(head).__name__} '{head.name}'")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} windows but y has {len(y)} labels")
    n_classes = int(head.units)
    missing = sorted(set(range(n_classes)) - set(y.tolist()))
    if missing or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be 0..{n_classes - 1} with every class at least once; "
                         f"missing classes {missing}, labels seen {sorted(set(y.tolist()))}")
    features = head_features(model, x)
    clf = LogisticRegression(C=c, max_iter=5000).fit(features, y)
    kernel, bias = clf.coef_.T, clf.intercept_
    if n_classes == 2:  # one logit z for class 1: softmax([0, z]) is the same probability
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        bias = np.array([0.0, bias[0]])
    head.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


#: Uncertainty measures of :func:`uncertainty_sampling` (Settles, "Active Learning Literature
#: Survey", University of Wisconsin-Madison CS TR 1648, 2009, section 3.1).
UNCERTAINTY_MEASURES = ("least_confident", "margin", "entropy")


def uncertainty_sampling(probabilities: np.ndarray, n: int, measure: str = "margin",
                         exclude=None) -> np.ndarray:
    """Active learning: the unlabelled windows the model is least sure about, to label next.

    Args:
        probabilities: ``(n_windows, n_classes)`` float class probabilities of the unlabelled
            pool (a softmax of the logits; rows sum to 1).
        n: how many windows to choose.
        measure: ``"least_confident"`` (lowest top probability), ``"margin"`` (smallest gap
            between the two most probable classes) or ``"entropy"`` (highest entropy, nats;
            ``scipy.stats.entropy``); see :data:`UNCERTAINTY_MEASURES`.
        exclude: optional indices (or a bool mask) never to choose, e.g. windows already
            labelled.

    Returns:
        ``(n,)`` int64 indices into ``probabilities``, most uncertain first (ties: lower index
        first).

    Raises:
        ValueError: ``probabilities`` is not 2-D with at least 2 classes, a row does not sum to 1,
            ``measure`` is unknown, or fewer than ``n`` windows can be chosen.
    """
    from scipy.stats import entropy

    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must be (n_windows, n_classes >= 2), got shape {p.shape}")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-3) or (p < 0).any():
        raise ValueError("each row of probabilities must be non-negative and sum to 1 "
                         "(apply a softmax to logits first: scipy.special.softmax(logits, axis=1))")
    if measure not in UNCERTAINTY_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {UNCERTAINTY_MEASURES}")
    top2 = -np.sort(-p, axis=1)[:, :2]
    score = {"least_confident": 1.0 - top2[:, 0],
             "margin": -(top2[:, 0] - top2[:, 1]),
             "entropy": entropy(p, axis=1)}[measure]          # higher = more uncertain
    allowed = np.ones(len(p), dtype=bool)
    if exclude is not None:
        exclude = np.asarray(exclude)
        allowed[np.flatnonzero(exclude) if exclude.dtype == bool else exclude.astype(int)] = False
    candidates = np.flatnonzero(allowed)
    if n > len(candidates):
        raise ValueError(f"asked for {n} windows but only {len(candidates)} can be chosen")
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    return order[:n].astype(np.int64)


def federated_average(client_weights, client_sizes) -> list[np.ndarray]:
    """Weighted average of the clients' model weights — the server step of FedAvg.

    ``w = Σ_k (n_k / n) · w_k`` with ``n = Σ_k n_k`` (McMahan et al. 2017, "Communication-Efficient
    Learning of Deep Networks from Decentralized Data", arXiv:1602.05629, Algorithm 1). Taught in
    ``modules/10_federated_learning.ipynb``.

    Args:
        client_weights: one list of arrays per client, each as ``keras.Model.get_weights()``
            returns it (same shapes for every client; float32).
        client_sizes: ``(n_clients,)`` number of training examples of each client (> 0).

    Returns:
        A list of float32 arrays with the shapes of one client's weights.

    Raises:
        ValueError: no clients, a different number of sizes and weight lists, a size <= 0, or
            clients whose weights differ in number or shape (not the same model).
    """
    sizes = np.asarray(client_sizes, dtype=np.float64)
    if len(client_weights) == 0:
        raise ValueError("federated_average needs at least one client's weights")
    if sizes.shape != (len(client_weights),):
        raise ValueError(f"got {len(client_weights)} clients' weights but {sizes.size} client sizes")
    if np.any(sizes <= 0):
        raise ValueError(f"every client must have at least one example, got sizes {sizes.tolist()}")
    shapes = [tuple(np.shape(w) for w in ws) for ws in client_weights]
    bad = [k for k, s in enumerate(shapes) if s != shapes[0]]
    if bad:
        raise ValueError(f"client(s) {bad} send weights of other shapes than client 0: all "
                         "clients must train the same model")
    fractions = sizes / sizes.sum()
    return [np.sum([f * np.asarray(ws[i], dtype=np.float64) for f, ws in zip(fractions, client_weights)],
                   axis=0).astype(np.float32) for i in range(len(client_weights[0]))]


@dataclasses.dataclass
class FederatedResult:
    """What :func:`train_federated` produced.

    Attributes:
        model: the global ``keras.Model`` after the last round.
        history: per round: ``"round"`` (1, 2, ...), ``"clients"`` (how many trained) and, with
            validation data, ``"val_accuracy"`` of the global model (fraction).
        update_bytes: bytes of one model update (all weights as float32) — what one client
            uploads, and downloads, per round.
        seconds: wall time of all rounds in s.
    """

    model: keras.Model
    history: dict[str, list[float]]
    update_bytes: int
    seconds: float


def train_federated(model: keras.Model, clients, *, rounds: int = 10, local_epochs: int = 1,
                    batch_size: int = 32, learning_rate: float = 0.05,
                    client_fraction: float = 1.0,
                    validation: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
                    progress: bool = True) -> FederatedResult:
    """Simulate federated averaging (FedAvg) of one model over clients that keep their data.

    Each round, a random fraction ``C = client_fraction`` of the clients (at least one) starts
    from the global weights, trains ``E = local_epochs`` epochs of plain SGD with minibatches of
    ``B = batch_size`` on its own data only, and sends its weights back; the server replaces the
    global weights by :func:`federated_average` of them (McMahan et al. 2017, arXiv:1602.05629,
    Algorithm 1 — SGD without momentum, so no optimiser state travels). Batch-normalisation
    statistics are weights too and are averaged the same way. Everything runs in this process:
    it is a simulation of the protocol, not a network implementation.

    Args:
        model: an uncompiled or compiled logits model (e.g. :func:`tinymlkit.models.build_cnn1d`);
            its current weights are the round-0 global model. It is recompiled with SGD.
        clients: a sequence of ``(x, y)`` pairs, one per client: ``x`` ``(n_k, window,
            n_channels)`` float32 normalised, ``y`` ``(n_k,)`` int class indices.
        rounds: communication rounds.
        local_epochs, batch_size, learning_rate: each client's local SGD.
        client_fraction: fraction of clients chosen (seeded) each round, in (0, 1].
        validation: optional ``(x, y)`` on which the global model is scored after every round
            (for the curve only; it never steers training).
        seed: seeds :func:`set_seed` and the client choice.
        progress: show a tqdm bar over rounds.

    Returns:
        A :class:`FederatedResult`.

    Raises:
        ValueError: no clients, a client whose ``x`` and ``y`` lengths differ or that is empty,
            a label outside the model's classes, ``rounds``/``local_epochs`` < 1 or
            ``client_fraction`` outside (0, 1].
    """
    import time

    clients = [(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)) for x, y in clients]
    if not clients:
        raise ValueError("train_federated needs at least one client")
    n_classes = int(model.output_shape[-1])
    for k, (x, y) in enumerate(clients):
        if len(x) != len(y) or len(y) == 0:
            raise ValueError(f"client {k} has {len(x)} windows and {len(y)} labels; both must be "
                             "equal and > 0")
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"client {k} has labels {y.min()}..{y.max()}, the model has "
                             f"classes 0..{n_classes - 1}")
    if rounds < 1 or local_epochs < 1:
        raise ValueError(f"rounds and local_epochs must be >= 1, got {rounds} and {local_epochs}")
    if not 0.0 < client_fraction <= 1.0:
        raise ValueError(f"client_fraction must be in (0, 1], got {client_fraction}")
    set_seed(seed)
    rng = np.random.default_rng(seed)
    # 16 steps per call, as in train_classifier: Keras' per-step overhead dominates tiny models.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=16)
    global_weights = [w.copy() for w in model.get_weights()]
    update_bytes = int(sum(np.asarray(w, dtype=np.float32).nbytes for w in global_weights))
    n_chosen = max(1, int(round(client_fraction * len(clients))))
    history: dict[str, list[float]] = {"round": [], "clients": []}
    if validation is not None:
        history["val_accuracy"] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=rounds, desc="FedAvg", unit="round")
    start = time.perf_counter()
    for r in range(1, rounds + 1):
        chosen = np.sort(rng.choice(len(clients), size=n_chosen, replace=False))
        updates, sizes = [], []
        for k in chosen:
            x, y = clients[k]
            model.set_weights(global_weights)
            model.fit(x, y, epochs=local_epochs, batch_size=batch_size, shuffle=True, verbose=0)
            updates.append([w.copy() for w in model.get_weights()])
            sizes.append(len(y))
        global_weights = federated_average(updates, sizes)
        model.set_weights(global_weights)
        history["round"].append(r)
        history["clients"].append(len(chosen))
        if validation is not None:
            pred = predict_classes(model, validation[0])
            history["val_accuracy"].append(float(np.mean(pred == np.asarray(validation[1]))))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return FederatedResult(model=model, history=history, update_bytes=update_bytes,
                           seconds=time.perf_counter() - start)
