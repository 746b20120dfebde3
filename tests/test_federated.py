"""Stage 4: federated averaging (FedAvg, McMahan et al. 2017, arXiv:1602.05629) in tinymlkit.train."""

import numpy as np
import pytest

from tinymlkit.models import build_cnn1d
from tinymlkit.train import federated_average, train_federated


def test_federated_average_is_weighted_by_client_size():
    a = [np.zeros((2, 3), np.float32), np.array([1.0], np.float32)]
    b = [np.ones((2, 3), np.float32), np.array([4.0], np.float32)]
    avg = federated_average([a, b], [30, 10])  # a holds 3/4 of the examples
    assert [w.shape for w in avg] == [(2, 3), (1,)]
    assert all(w.dtype == np.float32 for w in avg)
    np.testing.assert_allclose(avg[0], 0.25)
    np.testing.assert_allclose(avg[1], [0.75 * 1.0 + 0.25 * 4.0])
    # one client: its own weights come back unchanged
    np.testing.assert_array_equal(federated_average([b], [5])[1], b[1])


def test_federated_average_refuses_bad_input():
    w = [np.zeros(3, np.float32)]
    with pytest.raises(ValueError, match="at least one client"):
        federated_average([], [])
    with pytest.raises(ValueError, match="2 clients' weights but 1 client sizes"):
        federated_average([w, w], [1])
    with pytest.raises(ValueError, match="at least one example"):
        federated_average([w, w], [3, 0])
    with pytest.raises(ValueError, match=r"client\(s\) \[1\].*same model"):
        federated_average([w, [np.zeros(4, np.float32)]], [1, 1])


# No batch norm in these tiny runs: its moving statistics need more steps than a few rounds give.
def _clients(n_clients=3, n_per_client=120, seed=0):
    """Three classes of sine windows (frequency = class) with noise; each client gets its own
    seeded draw, and a held-out set for scoring."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, 40, dtype=np.float32)

    def draw(n):
        y = rng.integers(0, 3, size=n)
        x = np.stack([np.sin((k + 1) * t)[:, None] * np.ones((1, 6), np.float32) for k in y])
        return (x + 0.3 * rng.normal(size=x.shape)).astype(np.float32), y

    return [draw(n_per_client) for _ in range(n_clients)], draw(150)


def test_train_federated_learns_and_reports_bytes():
    clients, (x_val, y_val) = _clients()
    model = build_cnn1d(40, 6, 3, filters=4, n_blocks=2, batch_norm=False, seed=0)
    start = [w.copy() for w in model.get_weights()]
    result = train_federated(model, clients, rounds=4, local_epochs=3, learning_rate=0.3,
                             validation=(x_val, y_val), seed=0, progress=False)
    assert result.history["round"] == [1, 2, 3, 4]
    assert result.history["clients"] == [3, 3, 3, 3]
    assert result.update_bytes == sum(w.astype(np.float32).nbytes for w in start)
    assert result.history["val_accuracy"][-1] > 0.6, result.history  # chance is 1/3
    assert result.seconds > 0
    # the same seed gives the same global model
    again = train_federated(build_cnn1d(40, 6, 3, filters=4, n_blocks=2, batch_norm=False, seed=0), clients, rounds=4,
                            local_epochs=3, learning_rate=0.3, seed=0, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(result.model.get_weights(), again.model.get_weights()))


def test_train_federated_samples_a_fraction_of_clients_and_checks_input():
    clients, _ = _clients(n_clients=4, n_per_client=40)
    model = build_cnn1d(40, 6, 3, filters=4, n_blocks=2, batch_norm=False, seed=0)
    result = train_federated(model, clients, rounds=2, client_fraction=0.5, seed=0, progress=False)
    assert result.history["clients"] == [2, 2]
    with pytest.raises(ValueError, match="client 1 has 40 windows and 39 labels"):
        train_federated(model, [clients[0], (clients[1][0], clients[1][1][:-1])], progress=False)
    with pytest.raises(ValueError, match="classes 0..2"):
        train_federated(model, [(clients[0][0], clients[0][1] + 3)], progress=False)
    with pytest.raises(ValueError, match="client_fraction"):
        train_federated(model, clients, client_fraction=0.0, progress=False)
