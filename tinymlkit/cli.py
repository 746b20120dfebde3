"""Command-line interface: ``tinymlkit demo`` (used by ``make demo``) and ``tinymlkit boards``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from . import import_tensorflow_quietly

    import_tensorflow_quietly()
    from .pipeline import DemoConfig, run_demo

    config = DemoConfig(seed=args.seed) if args.epochs is None else DemoConfig(epochs=args.epochs, seed=args.seed)
    print(f"TinyML Lab Kit demo: motion pipeline on real IMU data → int8 → TFLM → C files in {args.out}/")
    run_demo(args.out, config, progress=not args.no_progress)
    return 0


def _boards(args: argparse.Namespace) -> int:
    from .boards import load_boards

    for b in load_boards().values():
        print(f"{b.board_id:<22} {b.name}: {b.flash_bytes / 1024:,.0f} KB flash, "
              f"{b.ram_bytes / 1024:,.0f} KB RAM ({b.mcu})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinymlkit`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="tinymlkit", description="TinyML Lab Kit tools")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train → int8 → TFLM → C files on the motion dataset")
    demo.add_argument("--out", default="build/demo", help="output folder (default: build/demo)")
    demo.add_argument("--epochs", type=int, default=None,
                      help="training epochs (default: the reference model's, 30)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    boards = sub.add_parser("boards", help="list the kit profiles and their memory")
    boards.set_defaults(func=_boards)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
