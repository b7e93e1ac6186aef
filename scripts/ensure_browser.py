"""Make sure Debian's Chromium is there for the browser tests (never `playwright install`).

Installs it with apt-get when we are root on a Debian-like machine; otherwise prints how to
install it, and the browser tests skip with that reason (or fail when
ONEHAND_REQUIRE_SERVICES=1).
"""

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    if os.path.exists(CHROMIUM):
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing Debian's chromium for the browser tests...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False
        )
        if result.returncode != 0:
            print("apt-get could not install chromium; browser tests will be skipped.")
        return 0
    print(
        f"{CHROMIUM} not found: browser tests will be skipped. Install it with: sudo apt-get "
        "install chromium"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
