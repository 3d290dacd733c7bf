"""Copy the public pages' static files to <out>/assets/web/<version>/<name> for nginx.

Run in the image's builder stage. The version in each URL is the app's own
(`backend.web.assets.asset_version`), so nginx serves exactly the URLs the pages link
(cached a year); any other version falls through to the app, which answers `no-cache`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from backend.web.assets import STATIC_DIR, TYPES, asset_version


def main(out: Path) -> int:
    for path in sorted(STATIC_DIR.iterdir()):
        if path.suffix not in TYPES or not path.is_file():
            continue
        target = out / "assets" / "web" / asset_version(path.name) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        print(f"static: /{target.relative_to(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
