"""Stage 14 — widgets: record data from a notebook with buttons, a progress bar and a live plot.

Taught in ``solutions/lab04_collect_your_data``. :class:`Recorder` wraps
:func:`tinymlkit.capture.record_samples` in ipywidgets: pick a label, press **Record**, watch each
take appear, press **Stop** at any time (every completed sample stays on disk).
:func:`live_plot` gives the same live picture without buttons, for cells that run top to bottom.
"""

from __future__ import annotations

import io
import threading

from .capture import Board, BoardError, CaptureSummary, StreamHeader, Take, record_samples
from .plots import plot_take

__all__ = ["Recorder", "live_plot"]


def _png(take: Take, header: StreamHeader, title: str) -> bytes:
    fig = plot_take(take.values, header.rate_hz, channel_names=header.channels, units=header.units,
                    title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def live_plot(header: StreamHeader, label: str = ""):
    """A callback for ``record_samples(..., on_take=...)`` that redraws the latest take in place.

    Args:
        header: the board's :class:`~tinymlkit.capture.StreamHeader` (rate, channels, units).
        label: shown in the title.

    Returns:
        ``on_take(take, index)``; it displays one image in the notebook and updates it per take.
    """
    from IPython.display import Image, display

    handle = None

    def on_take(take: Take, index: int) -> None:
        nonlocal handle
        image = Image(_png(take, header, f"{label} take {index + 1}: {len(take.values)} samples, "
                                         f"{take.bad_lines} bad lines"))
        if handle is None:
            handle = display(image, display_id=True)
        else:
            handle.update(image)

    return on_take


class Recorder:
    """A recording panel: label, person, number of takes, seconds per take, Record and Stop.

    Args:
        board: an open :class:`~tinymlkit.capture.Board` (a kit or the simulated board).
        out_dir: the session folder (see :func:`tinymlkit.capture.record_samples`).
        label: initial class name.
        n_samples: takes per press of Record.
        seconds: length of one take, in s.
        person: code of who performs (not a name).

    Attributes:
        widget: the ``ipywidgets.VBox`` (a notebook shows it when the Recorder is displayed).
        summary: the :class:`~tinymlkit.capture.CaptureSummary` of the last session, or None.
        error: the message of the last failure (e.g. an unplugged board), or "".
    """

    def __init__(self, board: Board, out_dir, *, label: str = "WAVE", n_samples: int = 10,
                 seconds: float = 2.0, person: str = "me"):
        import ipywidgets as w

        self.board, self.out_dir = board, out_dir
        self.summary: CaptureSummary | None = None
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.label = w.Text(value=label, description="label")
        self.person = w.Text(value=person, description="person code")
        self.n_samples = w.BoundedIntText(value=n_samples, min=1, max=500, description="takes")
        self.seconds = w.BoundedFloatText(value=seconds, min=0.1, max=60, step=0.5, description="seconds")
        self.record_button = w.Button(description="Record", button_style="danger", icon="circle")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=n_samples, description="0 takes")
        self.status = w.HTML(f"Board: <b>{board.header.board}</b>, {board.header.sensor} at "
                             f"{board.header.rate_hz:g} Hz, channels {', '.join(board.header.channels)}")
        self.image = w.Image(format="png")
        self.record_button.on_click(lambda _: self.record(block=False))
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = w.VBox([w.HBox([self.label, self.person]), w.HBox([self.n_samples, self.seconds]),
                              w.HBox([self.record_button, self.stop_button, self.progress]),
                              self.status, self.image])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def record(self, block: bool = True) -> CaptureSummary | None:
        """Record ``takes`` samples of ``label`` (what the Record button does).

        Args:
            block: wait until done and return the summary (False: run in the background, as the
                button does, so Stop stays clickable).

        Returns:
            The :class:`~tinymlkit.capture.CaptureSummary` when ``block``, else None.
        """
        if self._thread and self._thread.is_alive():
            return None
        self._stop.clear()
        self.error = ""
        self.progress.max, self.progress.value = self.n_samples.value, 0
        self.record_button.disabled, self.stop_button.disabled = True, False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if block:
            self._thread.join()
            return self.summary
        return None

    def stop(self) -> None:
        """Stop after the take in progress (that take is still saved)."""
        self._stop.set()

    def _on_take(self, take: Take, index: int) -> None:
        self.progress.value = index + 1
        self.progress.description = f"{index + 1} takes"
        self.image.value = _png(take, self.board.header, f"{self.label.value} take {index + 1}")
        if self._stop.is_set():
            raise KeyboardInterrupt  # record_samples keeps what is saved and returns

    def _run(self) -> None:
        try:
            self.summary = record_samples(self.board, self.label.value.strip(), self.n_samples.value,
                                          self.seconds.value, self.out_dir, person=self.person.value.strip(),
                                          progress=False, on_take=self._on_take)
            self.status.value = f"✔ {self.summary}"
        except (BoardError, ValueError) as exc:
            self.error = str(exc)
            self.status.value = f"<span style='color:#b00'>✘ {exc}</span>"
        finally:
            self.record_button.disabled, self.stop_button.disabled = False, True
