"""`python -m backend.wechat_sandbox --port PORT [--host HOST]` runs the WeChat sandbox."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from werkzeug.serving import make_server

from backend.wechat_sandbox.app import create_sandbox_app
from backend.wechat_sandbox.config import DEFAULT_PORT, SandboxConfig

log = logging.getLogger("linshan.sandbox")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, refuse production, serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m backend.wechat_sandbox", description="Local WeChat and WeChat Pay sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if os.environ.get("APP_ENV", "development") == "production":
        print("wechat sandbox: refusing to run with APP_ENV=production", file=sys.stderr)
        return 2
    try:
        config = SandboxConfig.from_env()
        app = create_sandbox_app(config)  # reads the v3 key files when v3 is configured
    except ValueError as exc:
        print(f"wechat sandbox: configuration error: {exc}", file=sys.stderr)
        return 2
    server = make_server(args.host, args.port, app, threaded=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the sandbox's control calls are open to anyone who reaches %s", args.host)
    log.info(
        "WeChat sandbox on http://%s:%s/ for appid %s, mch_id %s, time factor %s, pay %s",
        args.host,
        server.server_port,
        config.appid,
        config.mch_id,
        config.time_factor,
        "v2 and v3" if config.v3_enabled else "v2",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
