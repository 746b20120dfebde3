"""Command-line interface: ``tinymlkit demo`` (used by ``make demo``), ``kws`` (keyword spotting),
``vision`` (image classifier and person detection), ``anomaly`` (anomaly detection), ``boards``,
``doctor`` (is this computer ready?); kits:
``ports``, ``capture``, ``simulate-board``; a class's recordings: ``keywords pool``, ``keywords forget``;
Edge Impulse: ``eim``, ``ei-export``, ``ei-import``."""

from __future__ import annotations

import argparse
import sys

from .doctor import doctor
from .i18n import gettext as _

__all__ = ["main", "doctor"]


def _demo(args: argparse.Namespace) -> int:
    from . import import_tensorflow_quietly

    import_tensorflow_quietly()
    from .pipeline import DemoConfig, run_demo

    config = DemoConfig(seed=args.seed) if args.epochs is None else DemoConfig(epochs=args.epochs, seed=args.seed)
    print(f"TinyML Lab Kit demo: motion pipeline on real IMU data → int8 → TFLM → C files in {args.out}/")
    run_demo(args.out, config, progress=not args.no_progress)
    return 0


def _kws(args: argparse.Namespace) -> int:
    from . import import_tensorflow_quietly

    import_tensorflow_quietly()
    from .pipeline import KwsConfig, run_kws

    kw = {"seed": args.seed}
    if args.epochs is not None:
        kw["epochs"] = kw["class_epochs"] = args.epochs
    if args.keywords:
        kw["keywords"] = tuple(args.keywords.split(","))
    if args.synthetic_only:
        kw["real_speakers"] = ()
    print(f"TinyML Lab Kit keyword spotting: synthetic + real voices{' + the class' if args.extra else ''} "
          f"→ DS-CNN → int8 → TFLM → C files in {args.out}/")
    from .datasets import DatasetError

    try:
        run_kws(args.out, KwsConfig(**kw), extra=args.extra, progress=not args.no_progress)
    except (DatasetError, ValueError) as exc:
        print(f"tinymlkit kws: {exc}", file=sys.stderr)
        return 2
    return 0


def _vision(args: argparse.Namespace) -> int:
    from . import import_tensorflow_quietly

    import_tensorflow_quietly()
    from .datasets import DatasetError
    from .pipeline import VisionConfig, run_vision

    kw = {"seed": args.seed, "subset": True if args.subset else None}
    if args.epochs is not None:
        kw["epochs"] = args.epochs
    print(f"TinyML Lab Kit vision: Fashion-MNIST → small CNN → int8 → TFLM → C files, and TFLM person "
          f"detection, in {args.out}/")
    try:
        run_vision(args.out, VisionConfig(**kw), progress=not args.no_progress)
    except DatasetError as exc:
        print(f"tinymlkit vision: {exc}", file=sys.stderr)
        return 2
    return 0


def _anomaly(args: argparse.Namespace) -> int:
    from . import import_tensorflow_quietly

    import_tensorflow_quietly()
    from .pipeline import AnomalyConfig, run_anomaly

    kw = {"seed": args.seed}
    if args.epochs is not None:
        kw["epochs"] = args.epochs
    if args.held_out:
        kw["held_out"] = tuple(c.strip().upper() for c in args.held_out.split(",") if c.strip())
    print("TinyML Lab Kit anomaly: normal motion → K-means + autoencoder → thresholds from validation "
          "data → AUC, false alarms per hour → int8 → TFLM → C files; and the MIT-BIH ECG excerpt")
    try:
        run_anomaly(args.out, AnomalyConfig(**kw), progress=not args.no_progress)
    except ValueError as exc:
        print(f"tinymlkit anomaly: {exc}", file=sys.stderr)
        return 2
    return 0


def _boards(args: argparse.Namespace) -> int:
    from .boards import load_boards

    for b in load_boards().values():
        print(f"{b.board_id:<22} {b.name}: {b.flash_bytes / 1024:,.0f} KB flash, "
              f"{b.ram_bytes / 1024:,.0f} KB RAM ({b.mcu})")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    return 0 if doctor(ports=args.port).ok else 1


def _simulate_board(args: argparse.Namespace) -> int:
    from .simboard import SimulationConfig, main as simulate

    cfg = SimulationConfig(subject=args.subject, side=args.side, rate_hz=args.rate_hz, speed=args.speed,
                           model=args.model, drop_every=args.drop_every, garble_every=args.garble_every,
                           unplug_after_s=args.unplug_after_s, seed=args.seed, sensor=args.sensor,
                           speaker=args.speaker, clips_dir=args.clips_dir, snr_db=tuple(args.snr_db),
                           mic_max_ms=args.mic_max_ms)
    try:
        return simulate(cfg, link=args.link)
    except ValueError as exc:
        print(f"tinymlkit simulate-board: {exc}", file=sys.stderr)
        return 2


def _eim(args: argparse.Namespace) -> int:
    from .edgeimpulse import build_eim

    try:
        path = build_eim(args.model, args.out, wrist=args.wrist, interpreter=args.python)
    except ValueError as exc:  # includes ModelFilesError
        print(f"tinymlkit eim: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {path}: an Edge Impulse Linux runner ({args.wrist} wrist). Run it with the SDK: "
          f"ImpulseRunner('{path}') (hardware/edge_impulse/README.md)")
    return 0


def _ei_export(args: argparse.Namespace) -> int:
    from .datasets import DatasetError, load_motion
    from .edgeimpulse import export_dataset

    try:
        ds = load_motion(args.data)
        paths = export_dataset(ds, args.out, hmac_key=args.hmac_key)
    except (DatasetError, ValueError) as exc:
        print(f"tinymlkit ei-export: {exc}", file=sys.stderr)
        return 2
    n_test = sum(p.parent.name == "testing" for p in paths)
    print(f"Wrote {len(paths) - 1} Edge Impulse JSON files ({len(paths) - 1 - n_test} training, "
          f"{n_test} testing, {'signed HS256' if args.hmac_key else 'unsigned'}) and info.labels "
          f"to {args.out}/")
    return 0


def _ei_import(args: argparse.Namespace) -> int:
    from .datasets import DatasetError
    from .edgeimpulse import import_dataset

    try:
        ds = import_dataset(args.folder, hmac_key=args.hmac_key)
    except DatasetError as exc:
        print(f"tinymlkit ei-import: {exc}", file=sys.stderr)
        return 2
    print(f"{args.folder}: {ds.summary()}")
    print(f"subjects {sorted(set(ds.subject_ids.tolist()))}; channels "
          f"{', '.join(ds.channel_names)}{'; signatures checked' if args.hmac_key else ''}")
    return 0


def _ports(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    if not ports:
        print(_("No serial ports found. Plug the kit in with a data cable (not charge-only); on Linux "
                "add yourself to the 'dialout' group; on Windows check Device Manager → Ports."))
        return 1
    for p in ports:
        print(f"{p.device:<16} {p.description}" + (f" (USB {p.vid:04x}:{p.pid:04x})" if p.vid else ""))
    return 0


def _capture(args: argparse.Namespace) -> int:
    from .board_link import Board, BoardError
    from .capture import record_samples

    try:
        with Board(args.port) as board:
            h = board.header
            print(f"Board '{h.board}': {h.sensor} at {h.rate_hz:g} Hz, channels {', '.join(h.channels)} "
                  f"({', '.join(h.units)}). Recording {args.takes} × {args.seconds:g} s of '{args.label}' "
                  f"by '{args.person}' into {args.out}/ — Ctrl-C stops, finished takes are kept.")
            summary = record_samples(board, args.label, args.takes, args.seconds, args.out,
                                     person=args.person, side=args.side, pause_s=args.pause)
    except (BoardError, ValueError) as exc:
        print(f"tinymlkit capture: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 130 if summary.interrupted else 0


def _pool_call(command: str, call):
    """``(result, 0)``, or ``(None, exit status)`` after a one-line error: 2 for bad input, 1 for
    a file-system fault."""
    try:
        return call(), 0
    except ValueError as exc:  # includes DatasetError
        print(f"tinymlkit keywords {command}: {exc}", file=sys.stderr)
        return None, 2
    except OSError as exc:
        print(f"tinymlkit keywords {command}: {exc}", file=sys.stderr)
        return None, 1


def _keywords_pool(args: argparse.Namespace) -> int:
    from .class_pool import pool_keyword_recordings

    result, status = _pool_call("pool", lambda: pool_keyword_recordings(args.sources, args.out,
                                                                         forget=args.forget))
    if result is not None:
        print(result.table())
    return status


def _keywords_forget(args: argparse.Namespace) -> int:
    from .class_pool import forget_speaker

    for speaker in args.speaker:
        result, status = _pool_call("forget", lambda: forget_speaker(args.out, speaker))
        if result is None:
            return status
        if not result.forgotten:
            print(f"{speaker}: already forgotten, nothing to delete")
    print(result.table())
    return 0


def _add_keywords(sub) -> None:
    from .class_pool import DEFAULT_POOL_DIR

    kw = sub.add_parser("keywords", help=_("a class's keyword recordings: pool them with consent, forget a speaker"))
    ksub = kw.add_subparsers(dest="keywords_command", required=True)
    pool = ksub.add_parser("pool", help=_("pool keyword folders (folders, submission trees, .zip files) "
                                        "into one, keeping only speakers who consented"))
    pool.add_argument("sources", nargs="+",
                      help=_("keyword folders, folders holding them (e.g. grading/submitted) or .zip files"))
    pool.add_argument("--out", default=DEFAULT_POOL_DIR,
                      help=f"pooled folder (default {DEFAULT_POOL_DIR}, git-ignored; never commit voices)")
    pool.add_argument("--forget", nargs="+", action="extend", default=[], metavar="SPEAKER",
                      help=_("also forget these speakers (pooled id, or an original id only one speaker has)"))
    pool.set_defaults(func=_keywords_pool)
    forget = ksub.add_parser("forget", help=_("delete every clip of a pooled speaker, for good (withdrawal)"))
    forget.add_argument("speaker", nargs="+", help=_("pooled id (e.g. submitted-alice-p01), or an original "
                                                   "id only one pooled speaker has"))
    forget.add_argument("--out", default=DEFAULT_POOL_DIR, help=f"pooled folder (default {DEFAULT_POOL_DIR})")
    forget.set_defaults(func=_keywords_forget)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinymlkit`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="tinymlkit", description=_("TinyML Lab Kit tools"))
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help=_("train → int8 → TFLM → C files on the motion dataset"))
    demo.add_argument("--out", default="build/demo", help=_("output folder (default: build/demo)"))
    demo.add_argument("--epochs", type=int, default=None,
                      help=_("training epochs (default: the reference model's, 30)"))
    demo.add_argument("--seed", type=int, default=0, help=_("random seed (default: 0)"))
    demo.add_argument("--no-progress", action="store_true", help=_("no progress bars"))
    demo.set_defaults(func=_demo)
    kws = sub.add_parser("kws", help=_("keyword spotting: synthetic + real voices → DS-CNN → int8 → TFLM → C files"))
    kws.add_argument("--out", default="build/kws", help=_("output folder (default: build/kws)"))
    kws.add_argument("--keywords", default="", help=_("comma-separated words (default: the ten digits)"))
    kws.add_argument("--epochs", type=int, default=None,
                     help=_("training epochs (default: 20; 30 with --extra)"))
    kws.add_argument("--seed", type=int, default=0, help=_("random seed (default: 0)"))
    kws.add_argument("--extra", default=None, metavar="CLASS_KEYWORDS",
                     help=_("a class's pooled recordings (tinymlkit keywords pool): train on them too, test "
                          "on every 5th take of each class speaker, report per speaker"))
    kws.add_argument("--synthetic-only", action="store_true",
                     help=_("train on the synthetic voices only (the course's earlier model; no leave-one-"
                          "speaker-out)"))
    kws.add_argument("--no-progress", action="store_true", help=_("no progress bars"))
    kws.set_defaults(func=_kws)
    vision = sub.add_parser("vision", help=_("images: Fashion-MNIST CNN → int8 → TFLM → C files; TFLM person detection"))
    vision.add_argument("--out", default="build/vision", help=_("output folder (default: build/vision)"))
    vision.add_argument("--epochs", type=int, default=None, help=_("training epochs (default: 3)"))
    vision.add_argument("--subset", action="store_true",
                        help=_("train on the subset shipped in the package even if the full set is installed"))
    vision.add_argument("--seed", type=int, default=0, help=_("random seed (default: 0)"))
    vision.add_argument("--no-progress", action="store_true", help=_("no progress bars"))
    vision.set_defaults(func=_vision)
    anomaly = sub.add_parser("anomaly", help=_("anomaly detection: normal motion → K-means + autoencoder → "
                                             "thresholds, AUC, false alarms/hour → int8 → TFLM → C files; ECG excerpt"))
    anomaly.add_argument("--out", default="build/anomaly", help=_("output folder (default: build/anomaly)"))
    anomaly.add_argument("--held-out", default="", metavar="CODES",
                         help=_("comma-separated exercises treated as anomalies (default: IR,ER)"))
    anomaly.add_argument("--epochs", type=int, default=None, help=_("autoencoder epochs (default: 60)"))
    anomaly.add_argument("--seed", type=int, default=0, help=_("random seed (default: 0)"))
    anomaly.add_argument("--no-progress", action="store_true", help=_("no progress bars"))
    anomaly.set_defaults(func=_anomaly)
    boards = sub.add_parser("boards", help=_("list the kit profiles and their memory"))
    boards.set_defaults(func=_boards)
    doc = sub.add_parser("doctor", help=_("check this computer: Python, packages, compilers, data, ports"))
    doc.add_argument("--port", action="append", default=[],
                     help=_("also open this serial port and ask the sketch who it is (repeatable)"))
    doc.set_defaults(func=_doctor)
    ports = sub.add_parser("ports", help=_("list serial ports (which one is the kit?)"))
    ports.set_defaults(func=_ports)
    cap = sub.add_parser("capture", help=_("record labelled takes from a kit or the simulated board"))
    cap.add_argument("--port", required=True, help=_("serial port (tinymlkit ports) or the simulated board's"))
    cap.add_argument("--label", required=True, help=_("class name, e.g. WAVE"))
    cap.add_argument("--takes", type=int, default=10, help=_("how many takes (default 10)"))
    cap.add_argument("--seconds", type=float, default=2.0, help=_("length of a take in s (default 2)"))
    cap.add_argument("--person", default="me", help=_("code of who performs (not a name; default 'me')"))
    cap.add_argument("--side", choices=("left", "right"), default="left", help=_("wrist (default left)"))
    cap.add_argument("--pause", type=float, default=1.0, help=_("rest between takes in s (default 1)"))
    cap.add_argument("--out", default="recordings/session", help=_("session folder (default recordings/session)"))
    cap.set_defaults(func=_capture)
    sim = sub.add_parser("simulate-board",
                         help=_("a simulated kit on a pseudo-terminal (hardware/PROTOCOL.md)"))
    sim.add_argument("--subject", type=int, default=9, help=_("dataset subject it plays (default 9)"))
    sim.add_argument("--side", choices=("left", "right"), default="left", help=_("wrist (default left)"))
    sim.add_argument("--rate-hz", type=float, default=50.0, help=_("sample rate in Hz (default 50)"))
    sim.add_argument("--speed", type=float, default=1.0, help=_("times faster than real time (default 1)"))
    sim.add_argument("--model", default=None, help=_("exported model folder: answer INFER with it"))
    sim.add_argument("--link", default=None, help=_("also make this symlink to the port"))
    sim.add_argument("--drop-every", type=int, default=0, help=_("fault: lose every N-th sample"))
    sim.add_argument("--garble-every", type=int, default=0, help=_("fault: garble every N-th sample line"))
    sim.add_argument("--unplug-after-s", type=float, default=0.0, help=_("fault: unplug after S seconds"))
    sim.add_argument("--seed", type=int, default=0, help=_("random seed (default 0)"))
    sim.add_argument("--sensor", choices=("imu", "mic", "camera"), default="imu",
                     help=_("imu (imu_capture, motion_inference), mic (mic_capture: 16 kHz, RECORD ms=<n>) "
                          "or camera (image_capture: SNAP, 160x120 grayscale)"))
    sim.add_argument("--speaker", default=None,
                     help=_("mic: speaker id whose words it says (default: the first of the keyword folder)"))
    sim.add_argument("--clips-dir", default=None,
                     help=_("mic: keyword folder (manifest.csv + clips; default: the shipped synthetic set)"))
    sim.add_argument("--snr-db", type=float, nargs=2, default=(20.0, 30.0), metavar=("LOW", "HIGH"),
                     help=_("mic: signal-to-noise ratio range of a take in dB (default 20 30)"))
    sim.add_argument("--mic-max-ms", type=int, default=1000,
                     help=_("mic: longest RECORD in ms (default 1000, as the Nano 33 BLE Sense)"))
    sim.set_defaults(func=_simulate_board)
    _add_keywords(sub)
    eim = sub.add_parser("eim", help=_("make an Edge Impulse Linux runner (.eim) from an exported model"))
    eim.add_argument("model", help=_("exported model folder, or its model_int8.tflite"))
    eim.add_argument("-o", "--out", default=None, help=_("output file (default: model.eim beside the model)"))
    eim.add_argument("--wrist", choices=("left", "right"), default="left",
                     help=_("wrist the sensor is worn on (default left: data used as it is)"))
    eim.add_argument("--python", default=None,
                     help=_("interpreter for the #! line (default: this one); e.g. /usr/bin/python3"))
    eim.set_defaults(func=_eim)
    eix = sub.add_parser("ei-export", help=_("write the motion dataset as Edge Impulse JSON + info.labels"))
    eix.add_argument("--out", default="build/edge_impulse", help=_("output folder (default: build/edge_impulse)"))
    eix.add_argument("--hmac-key", default=None, help=_("sign every file with this HMAC key (HS256)"))
    eix.add_argument("--from", dest="data", default=None,
                     help=_("a course-format .npz to export (default: the shipped motion dataset)"))
    eix.set_defaults(func=_ei_export)
    eii = sub.add_parser("ei-import", help=_("read an Edge Impulse JSON folder and print a summary"))
    eii.add_argument("folder", help=_("folder with info.labels and/or *.json files"))
    eii.add_argument("--hmac-key", default=None, help=_("check every file's HS256 signature with this key"))
    eii.set_defaults(func=_ei_import)
    tr = sub.add_parser("translations", add_help=False,
                        help=_("maintainers: the course's translations (update, build, release, check, coverage)"))
    tr.set_defaults(func=None)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["translations"]:  # its own parser (tinymlkit.translations.main)
        from .translations import main as translations_main

        return translations_main(argv[1:])
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
