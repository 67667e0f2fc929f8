"""What the distribution ships besides the code: the license the package declares."""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# https://www.apache.org/licenses/LICENSE-2.0.txt, unmodified.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
# Hatchling's license files when pyproject.toml names none (PEP 639): what the wheel's .dist-info/licenses/ gets.
HATCHLING_DEFAULT_LICENSE_FILES = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")


def test_license_is_the_unmodified_apache_2_text() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


def test_the_wheel_ships_the_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    patterns = project.get("license-files", HATCHLING_DEFAULT_LICENSE_FILES)
    assert any(fnmatch.fnmatchcase("LICENSE", pattern) for pattern in patterns), (
        f"license-files {patterns} leaves LICENSE out of the wheel: add 'LICENSE' to it")
