"""The QuickFIX/J jars from Maven Central, resolved once into the shared cache directory.

This module owns getting `quickfixj-core`, `quickfixj-messages-fix44`, `mina-core`
and SLF4J (the runtime of the test acceptor, listed in
`connectors/fix_acceptor/pom.xml`) with `mvn dependency:copy-dependencies` into
`cache_dir/quickfixj-<version>/libs`, and the one file the Python FIX adapter
needs from them: the `FIX44.xml` data dictionary (the `quickfix` wheel ships
none; the one in the QuickFIX/J messages jar is used). Both are done once per
cache directory, under a file lock, and reused after.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import zipfile
from pathlib import Path

from hostio import file_lock, write_atomic

__all__ = ["QUICKFIXJ_VERSION", "FixSetupError", "fix44_dictionary", "pom_file", "resolve_jars"]

QUICKFIXJ_VERSION = "2.3.2"


class FixSetupError(RuntimeError):
    """The QuickFIX/J jars, the data dictionary or the acceptor could not be provisioned."""


def pom_file() -> Path:
    """The POM listing the acceptor's runtime (shipped with the package)."""
    return Path(__file__).parent / "fix_acceptor" / "pom.xml"


def resolve_jars(cache_dir: Path) -> Path:
    """The directory holding the QuickFIX/J runtime jars; downloaded with Maven on first use."""
    home = Path(cache_dir).absolute() / f"quickfixj-{QUICKFIXJ_VERSION}"
    libs = home / "libs"
    marker = home / ".complete"
    if marker.exists():
        return libs
    with file_lock(home / ".lock"):
        if marker.exists():  # another process resolved them while we waited
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise FixSetupError(
                f"Maven (`mvn`) is not on PATH; it is needed once to download the QuickFIX/J "
                f"{QUICKFIXJ_VERSION} jars into {libs} (e.g. `apt-get install maven`)."
            )
        pom = home / "pom.xml"
        shutil.copyfile(pom_file(), pom)
        if libs.exists():  # leftovers of an interrupted download
            shutil.rmtree(libs)
        began = time.monotonic()
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise FixSetupError(
                f"`mvn dependency:copy-dependencies` failed ({result.returncode}) after "
                f"{time.monotonic() - began:.0f} s:\n{(result.stdout + result.stderr)[-4000:]}"
            )
        marker.write_text(f"{QUICKFIXJ_VERSION}\n")
    return libs


def fix44_dictionary(cache_dir: Path) -> Path:
    """`FIX44.xml` from the QuickFIX/J messages jar, extracted once next to the jars."""
    libs = resolve_jars(cache_dir)
    target = libs.parent / "FIX44.xml"
    if target.exists():
        return target
    jar = libs / f"quickfixj-messages-fix44-{QUICKFIXJ_VERSION}.jar"
    try:
        with zipfile.ZipFile(jar) as archive:
            data = archive.read("FIX44.xml")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise FixSetupError(f"cannot read FIX44.xml from {jar}: {exc}") from exc
    write_atomic(target, data)
    return target
