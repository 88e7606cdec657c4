"""``rymi-endpoints``: what spans the three servers (start them, prepare models, certs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .models import load_catalog
from .models.catalog import ModelNotReady
from .models.fetch import ChecksumMismatch, FetchFailed


def _models_dir(arg: str | None) -> Path:
    import os

    from servers.common.config import default_models_dir
    return Path(arg or os.environ.get("RYMI_MODELS_DIR") or default_models_dir())


def cmd_models(args: argparse.Namespace) -> int:
    from .models import prepare as prep
    catalog = load_catalog()
    models_dir = _models_dir(args.models_dir)
    if args.action == "list":
        for e in catalog.values():
            flag = "default" if e.default else "       "
            print(f"{e.name:28} {e.server:4} {flag} {e.source:5} {e.description}")
        return 0
    names = args.names or [e.name for e in catalog.values() if e.default]
    unknown = [n for n in names if n not in catalog]
    if unknown:
        print(f"unknown model(s): {', '.join(unknown)}; see `rymi-endpoints models list`",
              file=sys.stderr)
        return 2
    try:
        for n in names:
            if args.action == "verify":
                prep.verify(catalog[n], models_dir)
                print(f"{n}: ok")
            else:
                path = prep.prepare(catalog[n], models_dir, show_progress=sys.stderr.isatty())
                print(f"{n}: {path}")
    except (ModelNotReady, ChecksumMismatch, FetchFailed) as exc:
        print(f"models: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a models dir that cannot be made or written: said, no traceback
        print(f"models: {models_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def cmd_cert(args: argparse.Namespace) -> int:
    from .certs import make_dev_certs
    paths = make_dev_certs(Path(args.out), tuple(args.name or ()) or
                           ("localhost", "127.0.0.1", "::1"))
    for k, p in paths.items():
        print(f"{k}: {p}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from .up import SERVERS, run_up
    bad = [s for s in args.servers if s not in SERVERS]
    if bad:
        print(f"unknown server(s) {', '.join(bad)}; choose from stt, tts, llm", file=sys.stderr)
        return 2
    return run_up(args.servers or list(SERVERS), demo=not args.no_demo)


def cmd_check(args: argparse.Namespace) -> int:
    from .check.run import run_check
    return run_check(args)


def cmd_settings(args: argparse.Namespace) -> int:
    from .settings_table import markdown_table, readme_with_table
    if args.write_readme:
        path = Path(args.write_readme)
        path.write_text(readme_with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown_table())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rymi-endpoints", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the servers and print their URLs")
    up.add_argument("servers", nargs="*", help="any of stt, tts, llm (default: all three)")
    up.add_argument("--no-demo", action="store_true", help="do not start the browser console")
    up.set_defaults(func=cmd_up)
    models = sub.add_parser("models", help="list, prepare (default) or verify models")
    models.add_argument("action", nargs="?", default="prepare",
                        choices=["list", "prepare", "verify"])
    models.add_argument("names", nargs="*")
    models.add_argument("--models-dir", help="default: $RYMI_MODELS_DIR or the user cache")
    models.set_defaults(func=cmd_models)
    cert = sub.add_parser("cert", help="make a local dev CA and server certificate")
    cert.add_argument("--out", default=".certs")
    cert.add_argument("--name", action="append", help="DNS name or IP (repeatable)")
    cert.set_defaults(func=cmd_cert)
    check = sub.add_parser("check", help="check endpoints against Rymi's contract")
    from .check.run import add_arguments
    add_arguments(check)
    check.set_defaults(func=cmd_check)
    settings = sub.add_parser("settings", help="print the settings table (markdown)")
    settings.add_argument("--write-readme", metavar="README",
                          help="replace the table between the settings markers in README")
    settings.set_defaults(func=cmd_settings)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
