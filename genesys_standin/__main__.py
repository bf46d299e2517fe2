"""`python -m genesys_standin --host 127.0.0.1 --port 8100`: serve the stand-in (threaded werkzeug server).

Settings come from STANDIN_<FIELD> environment variables (for example STANDIN_RATE_LIMIT_PER_MINUTE=60);
the port may also come from GENESYS_STANDIN_PORT.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType
from typing import Any

from werkzeug.serving import make_server

from genesys_standin.app import create_app
from genesys_standin.context import EXTENSION
from genesys_standin.settings import StandinSettings

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def settings_from_env(environ: Mapping[str, str]) -> StandinSettings:
    """StandinSettings with each field overridden by STANDIN_<FIELD> when set.

    :raise SystemExit: naming the variable when a value cannot be read.
    """
    values: dict[str, Any] = {}
    for setting in dataclasses.fields(StandinSettings):
        name = f"STANDIN_{setting.name.upper()}"
        raw = environ.get(name)
        if raw is None or raw.strip() == "":
            continue
        raw = raw.strip()
        kind = str(setting.type)
        try:
            if kind == "bool":
                if raw.lower() not in TRUE | FALSE:
                    raise ValueError(raw)
                values[setting.name] = raw.lower() in TRUE
            elif kind == "int":
                values[setting.name] = int(raw)
            elif kind == "float":
                values[setting.name] = float(raw)
            else:
                values[setting.name] = raw
        except ValueError:
            raise SystemExit(f"{name}: cannot read {raw!r} as {kind}") from None
    return StandinSettings(**values)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the app, serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m genesys_standin", description="Genesys Cloud stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GENESYS_STANDIN_PORT", "8100")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="genesys-standin: %(message)s")
    app = create_app(settings_from_env(os.environ))
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"Genesys Cloud stand-in on http://{args.host}:{server.server_port}/ (console at /)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions[EXTENSION].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
