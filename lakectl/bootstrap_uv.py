"""uv (PyPI's `uv` wheel) with nothing but Python's standard library: the first install step on a machine whose
python3 has neither pip nor ensurepip (a stock Debian 12 without python3-pip / python3-venv).

Run by the Makefile before any venv exists (``python3 -P lakectl/bootstrap_uv.py DEST``): finds the pinned wheel
in the package index (PEP 691 JSON, ``UV_INDEX_URL`` / ``PIP_INDEX_URL`` or PyPI), checks its SHA-256 against
the pin below, and unpacks the ``uv`` binary to DEST (written under a temporary name, renamed last, so an
interrupted run leaves nothing that looks installed). Imports nothing from lakectl.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

UV_VERSION = "0.13.9"
# (system, machine) -> the wheel and its SHA-256 on PyPI
WHEELS = {
    ("Linux", "x86_64"): ("uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                          "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19"),
    ("Linux", "aarch64"): ("uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
                           "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe"),
    ("Darwin", "x86_64"): ("uv-0.13.9-py3-none-macosx_10_12_x86_64.whl",
                           "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5"),
    ("Darwin", "arm64"): ("uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
                          "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63"),
}


def _wheel_url(index: str, filename: str) -> str:
    page = urllib.parse.urljoin(index.rstrip("/") + "/", "uv/")
    request = urllib.request.Request(page, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    for entry in files:
        if entry["filename"] == filename:
            return urllib.parse.urljoin(page, entry["url"])
    raise SystemExit(f"bootstrap_uv: {filename} is not in {page}")


def install(dest: Path) -> Path:
    if dest.is_file():
        return dest
    key = (platform.system(), platform.machine())
    if key not in WHEELS:
        raise SystemExit(f"bootstrap_uv: no pinned uv wheel for {key[0]} {key[1]}: install uv {UV_VERSION} "
                         "yourself (https://docs.astral.sh/uv/) and put it on PATH")
    filename, sha256 = WHEELS[key]
    index = os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    url = _wheel_url(index, filename)
    print(f"bootstrap_uv: downloading {filename}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=300) as response:
        wheel = response.read()
    if hashlib.sha256(wheel).hexdigest() != sha256:
        raise SystemExit(f"bootstrap_uv: {filename} from {url} does not match its pinned SHA-256")
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        binary = archive.read(f"uv-{UV_VERSION}.data/scripts/uv")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.rename(dest)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python3 -P {sys.argv[0]} DEST (installs uv {UV_VERSION} as DEST)")
    print(install(Path(sys.argv[1])))
