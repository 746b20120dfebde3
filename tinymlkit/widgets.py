"""Stage 14 — widgets: record data from a notebook with buttons, a progress bar and a live plot.

Taught in ``solutions/lab04_collect_your_data``. :class:`Recorder` wraps
:func:`tinymlkit.capture.record_samples` in ipywidgets: pick a label, press **Record**, watch each
take appear, press **Stop** at any time (every completed sample stays on disk).
:func:`live_plot` gives the same live picture without buttons, for cells that run top to bottom.

Keyword-spotting track (lab 05): :class:`KeywordRecorder` records the student's own spoken
keywords from the laptop's or the kit's microphone, one take at a time — a level meter says
whether the take is too quiet or clipping, the take plays back, and **Save** keeps it
(:func:`tinymlkit.capture.save_keyword_clip`) or **Discard** drops it.

Vision track (lab 06): :class:`ImageRecorder` shows the camera's live preview, takes a labelled
picture at a click (:func:`tinymlkit.capture.record_images`, with the consent check for people in
view) and keeps a strip of the last pictures.
"""

from __future__ import annotations

import csv
import io
import math
import pathlib
import threading

import numpy as np

from .i18n import gettext as _
from .keywords import KEYWORD_SAMPLE_RATE_HZ
from .labels import SILENCE_LABEL, check_label, check_speaker_id
from .class_pool import KEYWORD_CLIP_MS
from .protocol import StreamHeader
from .board_link import Board, BoardError, CorruptFrameError, Take
from .microphone import MicrophoneError
from .capture import (CaptureSummary, check_audio_source, record_images, record_samples, record_take,
                      save_keyword_clip)
from .plots import plot_take

__all__ = ["Recorder", "live_plot", "KeywordRecorder", "ImageRecorder", "png_bytes", "audio_level", "wav_bytes",
           "QUIET_PEAK_DBFS"]

#: A take whose peak is below this, in dBFS, is "too quiet" (the word is lost in the noise once
#: the model's features normalise it). Speech recorded well peaks between about -20 and -3 dBFS;
#: -30 dBFS is this course's warning line, not a standard.
QUIET_PEAK_DBFS = -30.0
#: One step of 16-bit audio, in dBFS (20·log10(1/32768) ≈ -90.3): the level of a silent take.
_FLOOR_DBFS = 20 * math.log10(1 / 32768)


def audio_level(audio) -> dict:
    """Peak and RMS level of a take, and a hint if it is too quiet or clipping.

    Args:
        audio: ``(n_samples,)`` int16 samples (full scale 32768).

    Returns:
        ``{"peak_dbfs": float, "rms_dbfs": float, "clipped": int, "hint": str}``: levels in dBFS
        (0 dBFS = full scale; a silent take gives -90.3, one 16-bit step), ``clipped`` the samples
        at full scale (±32767 or -32768), ``hint`` ``""`` when the level is fine, else a sentence
        starting "clipping" (any clipped sample) or "too quiet" (peak below
        :data:`QUIET_PEAK_DBFS`).

    Raises:
        ValueError: ``audio`` is empty, not 1-D, or not int16.
    """
    a = np.asarray(audio)
    if a.ndim != 1 or a.size == 0 or a.dtype != np.int16:
        raise ValueError(f"audio: expected (n_samples,) int16, got shape {a.shape} {a.dtype}")
    x = a.astype(np.float64)
    peak = float(np.abs(x).max())
    rms = float(np.sqrt(np.mean(x ** 2)))
    clipped = int(np.count_nonzero(np.abs(x) >= 32767))
    level = {"peak_dbfs": 20 * math.log10(peak / 32768) if peak else _FLOOR_DBFS,
             "rms_dbfs": 20 * math.log10(rms / 32768) if rms else _FLOOR_DBFS,
             "clipped": clipped, "hint": ""}
    if clipped:
        level["hint"] = _("clipping: {n} sample(s) hit full scale, the word is distorted. Speak "
                          "softer or move the microphone away, and record again.").format(n=clipped)
    elif level["peak_dbfs"] < QUIET_PEAK_DBFS:
        level["hint"] = _("too quiet: the peak is {peak} dBFS (below {limit}). Speak louder or closer "
                          "to the microphone.").format(peak=f"{level['peak_dbfs']:.0f}", limit=f"{QUIET_PEAK_DBFS:.0f}")
    return level


def wav_bytes(audio, sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ) -> bytes:
    """A WAV file in memory (16-bit PCM mono) for playback, e.g. ``ipywidgets.Audio(value=...)``.

    Args:
        audio: ``(n_samples,)`` int16 samples.
        sample_rate_hz: their rate in Hz.

    Returns:
        The bytes of the WAV file.
    """
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(audio, dtype=np.int16), int(sample_rate_hz), subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _png(take: Take, header: StreamHeader, title: str) -> bytes:
    fig = plot_take(take.values, header.rate_hz, channel_names=header.channels, units=header.units,
                    title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def live_plot(header: StreamHeader, label: str = ""):
    """A callback for ``record_samples(..., on_take=...)`` that redraws the latest take in place.

    Args:
        header: the board's :class:`~tinymlkit.protocol.StreamHeader` (rate, channels, units).
        label: shown in the title.

    Returns:
        ``on_take(take, index)``; it displays one image in the notebook and updates it per take.
    """
    from IPython.display import Image, display

    handle = None

    def on_take(take: Take, index: int) -> None:
        nonlocal handle
        image = Image(_png(take, header, _("{label} take {i}: {n} samples, {bad} bad lines").format(
            label=label, i=index + 1, n=len(take.values), bad=take.bad_lines)))
        if handle is None:
            handle = display(image, display_id=True)
        else:
            handle.update(image)

    return on_take


class Recorder:
    """A recording panel: label, person, number of takes, seconds per take, Record and Stop.

    Args:
        board: an open :class:`~tinymlkit.board_link.Board` (a kit or the simulated board).
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
        self.label = w.Text(value=label, description=_("label"))
        self.person = w.Text(value=person, description=_("person code"))
        self.n_samples = w.BoundedIntText(value=n_samples, min=1, max=500, description=_("takes"))
        self.seconds = w.BoundedFloatText(value=seconds, min=0.1, max=60, step=0.5, description=_("seconds"))
        self.record_button = w.Button(description=_("Record"), button_style="danger", icon="circle")
        self.stop_button = w.Button(description=_("Stop"), icon="stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=n_samples, description=_("{n} takes").format(n=0))
        self.status = w.HTML(_("Board: <b>{board}</b>, {sensor} at {rate} Hz, channels {channels}").format(
            board=board.header.board, sensor=board.header.sensor, rate=f"{board.header.rate_hz:g}",
            channels=", ".join(board.header.channels)))
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
        self.progress.description = _("{n} takes").format(n=index + 1)
        self.image.value = _png(take, self.board.header, _("{label} take {i}").format(label=self.label.value, i=index + 1))
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


class KeywordRecorder:
    """A panel to record your own keywords: pick a word, **Record**, listen, **Save** or **Discard**.

    Each take is ``clip_ms`` long; **Save** writes it as a 1 s clip centred on the word with
    :func:`tinymlkit.capture.save_keyword_clip` (``<folder>/<label>/<label>.<speaker_id>.<NNN>.wav``
    and ``<folder>/manifest.csv``), so :func:`tinymlkit.datasets.load_keyword_clips` reads the
    folder. Nothing is written until **Save**.

    Args:
        folder: the keyword folder.
        labels: the words offered, e.g. ``("yes", "no", "_silence_")``.
        speaker_id: code of who speaks (letters, digits, ``-``, ``_``).
        source: ``"laptop"`` (this computer's microphone) or an open
            :class:`~tinymlkit.board_link.Board` with a microphone (``mic_capture`` sketch, or the
            simulated board ``--sensor mic``, which is told the word with ``ACT``).
        clip_ms: length of a take in ms (longer takes leave time to react; the saved clip is 1 s).
        device: laptop microphone, see :func:`tinymlkit.microphone.record_microphone`.

    Attributes:
        widget: the ``ipywidgets.VBox`` (a notebook shows it when the recorder is displayed).
        take: the last take, ``(n_samples,)`` int16 at 16 kHz, until saved or discarded (else None).
        take_label: the word the take was recorded for.
        level: :func:`audio_level` of the last take (None before the first).
        saved: paths saved with this panel, in order.
        error: message of the last failure (e.g. no microphone, unplugged board), or "".

    Raises:
        ValueError: a bad label, speaker_id, source or clip_ms.
        BoardError: the board has no microphone.
    """

    def __init__(self, folder, labels, speaker_id: str, source="laptop", *,
                 clip_ms: int = KEYWORD_CLIP_MS, device=None):
        import ipywidgets as w

        self.labels = [labels] if isinstance(labels, str) else list(labels)
        if not self.labels:
            raise ValueError("labels: give at least one word to record")
        for label in self.labels:
            check_label(label, spoken=True)
        self.speaker_id = check_speaker_id(speaker_id)
        self.source_text = check_audio_source(source)
        if isinstance(clip_ms, bool) or not isinstance(clip_ms, int) or clip_ms < 1:
            raise ValueError(f"clip_ms={clip_ms!r}: give a whole number of ms, at least 1")
        self.folder, self.source, self.clip_ms, self.device = pathlib.Path(folder), source, clip_ms, device
        self.take: np.ndarray | None = None
        self.take_label: str | None = None
        self.level: dict | None = None
        self.saved: list[pathlib.Path] = []
        self.error = ""
        self.label = w.Dropdown(options=self.labels, description=_("word"))
        self.record_button = w.Button(description=_("Record"), button_style="danger", icon="circle")
        self.save_button = w.Button(description=_("Save"), button_style="success", icon="check", disabled=True)
        self.discard_button = w.Button(description=_("Discard"), icon="trash", disabled=True)
        self.meter = w.FloatProgress(value=-60.0, min=-60.0, max=0.0, description=_("peak dBFS"))
        self.level_text = w.HTML("")
        self.player = w.Audio(format="wav", autoplay=False, controls=True)
        self.counts_html = w.HTML("")
        where = _("this laptop's microphone") if source == "laptop" else _("the board on {port}").format(port=source.port)
        self.status = w.HTML(_("Recording {ms} ms takes from {where} as speaker <b>{speaker}</b> into {folder}").format(
            ms=self.clip_ms, where=where, speaker=self.speaker_id, folder=self.folder))
        self.record_button.on_click(lambda _: self.record())
        self.save_button.on_click(lambda _: self.save())
        self.discard_button.on_click(lambda _: self.discard())
        self._lock = threading.Lock()
        self._show_counts()
        self.widget = w.VBox([w.HBox([self.label, self.record_button]),
                              w.HBox([self.meter, self.level_text]), self.player,
                              w.HBox([self.save_button, self.discard_button]), self.counts_html,
                              self.status])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def counts(self) -> dict[str, int]:
        """Clips of this speaker per offered label in the folder's manifest (saved earlier too).

        Returns:
            ``{label: count}`` for every label of the panel, in order.
        """
        counts = dict.fromkeys(self.labels, 0)
        manifest = self.folder / "manifest.csv"
        if manifest.exists():
            with manifest.open(newline="") as f:
                for row in csv.DictReader(f):
                    if row.get("speaker_id") == self.speaker_id and row.get("label") in counts:
                        counts[row["label"]] += 1
        return counts

    def _show_counts(self) -> None:
        self.counts_html.value = _("saved:") + " " + ", ".join(f"{k} <b>{v}</b>" for k, v in self.counts().items())

    def _set_take(self, take: np.ndarray | None, label: str | None) -> None:
        self.take, self.take_label = take, label
        self.save_button.disabled = self.discard_button.disabled = take is None
        if take is None:
            self.player.value = b""
            return
        self.level = audio_level(take)
        self.meter.value = max(self.meter.min, min(self.meter.max, self.level["peak_dbfs"]))
        hint = self.level["hint"]
        if not self.level["clipped"] and label == SILENCE_LABEL:
            hint = ""  # a quiet room is what _silence_ should sound like (the hint can only say "too quiet")
        self.meter.bar_style = "danger" if self.level["clipped"] else "warning" if hint else "success"
        color = "#b00" if hint else "#060"
        level_ok = _("level OK")
        self.level_text.value = (f"peak {self.level['peak_dbfs']:.1f} dBFS, RMS {self.level['rms_dbfs']:.1f} "
                                 f"dBFS <span style='color:{color}'>{hint or level_ok}</span>")
        self.player.value = wav_bytes(take)

    def record(self) -> np.ndarray | None:
        """Record one take of the selected word (what **Record** does); it replaces an unsaved take.

        Returns:
            The take, ``(clip_ms × 16,)`` int16 at 16 kHz; None if recording failed (the reason is
            in :attr:`error` and on the panel).
        """
        with self._lock:
            label = self.label.value
            self.error = ""
            self.record_button.disabled = True
            what = _("stay quiet") if label == SILENCE_LABEL else _("say {word}").format(word=label)
            self.status.value = _("● recording: {what} …").format(what=what)
            try:
                take = record_take(self.source, label, self.clip_ms, self.device)
            except (BoardError, MicrophoneError, ValueError) as exc:
                self.error = str(exc)
                self.status.value = f"<span style='color:#b00'>✘ {exc}</span>"
                return None
            finally:
                self.record_button.disabled = False
            self._set_take(take, label)
            self.status.value = _("take of '{word}': listen, then Save or Discard").format(word=label)
            return take

    def save(self) -> pathlib.Path | None:
        """Save the last take under the word it was recorded for (what **Save** does).

        Returns:
            The WAV path written, or None when there is no take to save.

        Raises:
            tinymlkit.datasets.DatasetError: the folder's manifest is not a keyword manifest.
        """
        with self._lock:
            if self.take is None:
                self.status.value = _("nothing to save: record a take first")
                return None
            path = save_keyword_clip(self.folder, self.take, self.take_label, self.speaker_id,
                                     source=self.source_text)
            self.saved.append(path)
            self._set_take(None, None)
            self._show_counts()
            self.status.value = "✔ " + _("saved {path}").format(path=path.relative_to(self.folder))
            return path

    def discard(self) -> None:
        """Drop the last take without saving it (what **Discard** does)."""
        with self._lock:
            self._set_take(None, None)
            self.status.value = _("take discarded")


def png_bytes(image: np.ndarray) -> bytes:
    """A grayscale image as PNG file bytes (for an ``ipywidgets.Image``).

    Args:
        image: ``(height, width)`` uint8.

    Returns:
        The PNG bytes.

    Raises:
        ValueError: not a 2-D uint8 image.
    """
    from PIL import Image

    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"expected a (height, width) uint8 image, got {image.shape} {image.dtype}")
    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG")
    return buf.getvalue()


class ImageRecorder:
    """A panel to photograph your own objects: a live **Preview**, a button per label, **Take**
    saves one picture, and a strip of the last pictures taken.

    Each picture is saved at once by :func:`tinymlkit.capture.record_images`
    (``<folder>/<label>/<label>.<NNN>.png`` and ``<folder>/manifest.csv``), so
    :func:`tinymlkit.capture.load_images` reads the folder; a frame damaged on the link is taken
    again. Pictures labelled ``person`` (or with codes in *people in view*) need each person's
    consent record in ``<folder>/consent.csv``; without it the panel says so and saves nothing.

    Args:
        board: an open :class:`~tinymlkit.board_link.Board` with a camera (``image_capture`` or
            the simulated board ``--sensor camera``).
        folder: the image folder.
        labels: the objects offered, e.g. ``("shoe", "bag", "cup")``.
        strip: how many of the last pictures the strip shows.

    Attributes:
        widget: the ``ipywidgets.VBox``.
        frame: the last frame shown (preview or picture), ``(height, width)`` uint8, or None.
        saved: paths saved with this panel, in order.
        error: message of the last failure, or "".

    Raises:
        ValueError: a bad label or no label.
        BoardError: the board has no camera.
    """

    def __init__(self, board: Board, folder, labels, *, strip: int = 8):
        import ipywidgets as w

        self.labels = [labels] if isinstance(labels, str) else list(labels)
        if not self.labels:
            raise ValueError("labels: give at least one object to photograph")
        for label in self.labels:
            check_label(label)
        if board.header.sensor != "camera":
            raise BoardError(f"the board on '{board.port}' sends {board.header.sensor} data, not camera "
                             "frames: upload the image_capture sketch, or start the simulated board with "
                             "--sensor camera")
        self.board, self.folder, self.strip = board, pathlib.Path(folder), max(1, int(strip))
        self.frame: np.ndarray | None = None
        self.saved: list[pathlib.Path] = []
        self.error = ""
        self.label = w.ToggleButtons(options=self.labels, description=_("object"))
        self.people = w.Text(description=_("people in view"), placeholder=_("codes with consent, e.g. p07"))
        self.preview_button = w.Button(description=_("Preview"), icon="eye")
        self.take_button = w.Button(description=_("Take"), button_style="danger", icon="camera")
        self.image = w.Image(format="png", width=320)
        self.thumbs = w.HBox([])
        self.counts_html = w.HTML("")
        self.status = w.HTML(_("Camera on {port} ({width}×{height}); pictures go to {folder}").format(
            port=board.port, width=board.header.extra.get("width", "?"), height=board.header.extra.get("height", "?"),
            folder=self.folder))
        self.preview_button.on_click(lambda _: self.preview())
        self.take_button.on_click(lambda _: self.take())
        self._lock = threading.Lock()
        self._show_counts()
        self.widget = w.VBox([self.label, self.people, w.HBox([self.preview_button, self.take_button]),
                              self.image, self.thumbs, self.counts_html, self.status])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def counts(self) -> dict[str, int]:
        """Pictures per offered label in the folder's manifest (taken earlier too).

        Returns:
            ``{label: count}`` for every label of the panel, in order.
        """
        counts = dict.fromkeys(self.labels, 0)
        manifest = self.folder / "manifest.csv"
        if manifest.exists():
            with manifest.open(newline="") as f:
                for row in csv.DictReader(f):
                    if row.get("label") in counts:
                        counts[row["label"]] += 1
        return counts

    def _show_counts(self) -> None:
        self.counts_html.value = _("taken:") + " " + ", ".join(f"{k} <b>{v}</b>" for k, v in self.counts().items())

    def _show(self, frame: np.ndarray) -> None:
        self.frame = frame
        self.image.value = png_bytes(frame)

    def preview(self) -> np.ndarray | None:
        """Show one frame without saving it (what **Preview** does).

        Returns:
            The frame, ``(height, width)`` uint8; None if the camera failed (the reason is in
            :attr:`error` and on the panel).
        """
        with self._lock:
            self.error = ""
            for attempt in range(3):
                try:
                    frame = self.board.snap()
                    break
                except CorruptFrameError as exc:
                    if attempt == 2:
                        return self._fail(exc)
                except BoardError as exc:
                    return self._fail(exc)
            self._show(frame)
            self.status.value = _("preview (not saved): frame the object, then {take}").format(take=_("Take"))
            return frame

    def _fail(self, exc: Exception) -> None:
        self.error = str(exc)
        self.status.value = f"<span style='color:#b00'>✘ {exc}</span>"
        return None

    def take(self) -> pathlib.Path | None:
        """Take and save one picture of the selected object (what **Take** does).

        Returns:
            The PNG path written; None if nothing was saved (no consent for the people in view,
            or the camera failed: the reason is in :attr:`error` and on the panel).
        """
        import ipywidgets as w

        with self._lock:
            self.error = ""
            label = self.label.value
            self.take_button.disabled = True
            try:
                summary = record_images(self.board, label, 1, self.folder, people=self.people.value.split(),
                                        progress=False, on_image=lambda frame, k: self._show(frame))
            except (BoardError, ValueError) as exc:
                return self._fail(exc)
            finally:
                self.take_button.disabled = False
            path = summary.saved[-1]
            self.saved.append(path)
            thumb = w.Image(value=png_bytes(self.frame), format="png", width=64)
            self.thumbs.children = (tuple(self.thumbs.children) + (thumb,))[-self.strip:]
            self._show_counts()
            self.status.value = "✔ " + _("saved {path}").format(path=path.relative_to(self.folder))
            return path
