"""OCR with Tesseract: image bytes in, text out.

Tesseract is called as a program (``tesseract stdin stdout -l chi_sim+eng``), not linked:
Debian's ``tesseract-ocr`` package and its language packs are all it needs, and a crash in it
cannot take the caller down. It runs single-threaded (``OMP_THREAD_LIMIT=1``) because our
parallelism comes from the worker processes, one per core.

OCR text is **derived**: callers keep it apart from a document's own text and say so.
Chinese output from Tesseract has spaces between Han characters ("借 款 合 同"); they are
removed so that search for 借款合同 finds it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from ..i18n import N_, _

DEFAULT_LANG = "chi_sim+eng"
INSTALL_HINT = N_(
    "install Tesseract to read text from scanned pages and images "
    "(Debian/Ubuntu: sudo apt install tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng), "
    "then run 'evidence reindex'"
)
DEBIAN_LANG_PACKAGE = "tesseract-ocr-{}"

_HAN = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_BETWEEN_HAN = re.compile(f"(?<=[{_HAN}])[ \t]+(?=[{_HAN}])")


class OcrUnavailable(Exception):
    """Tesseract or a language pack is missing; the message says how to install it."""


@dataclass(frozen=True)
class OcrOptions:
    """``lang`` is Tesseract's language list (``chi_sim+eng``); ``timeout`` is per image."""

    lang: str = DEFAULT_LANG
    timeout: float = 120.0


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


@functools.cache
def installed_languages() -> frozenset[str]:
    """The language packs Tesseract reports (``tesseract --list-langs``); empty if absent."""
    exe = tesseract_path()
    if exe is None:
        return frozenset()
    done = subprocess.run(
        [exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    )
    lines = (done.stdout + done.stderr).splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line)


def check_available(lang: str = DEFAULT_LANG) -> None:
    """Raise :class:`OcrUnavailable` with an install hint unless OCR in ``lang`` can run."""
    if tesseract_path() is None:
        raise OcrUnavailable(
            _("Tesseract is not installed: {INSTALL_HINT}").format(INSTALL_HINT=_(INSTALL_HINT))
        )
    missing = [code for code in lang.split("+") if code and code not in installed_languages()]
    if missing:
        packages = " ".join(DEBIAN_LANG_PACKAGE.format(m.replace("_", "-")) for m in missing)
        raise OcrUnavailable(
            _(
                "Tesseract has no language pack for {value} (Debian/Ubuntu: sudo apt install "
                "{packages})"
            ).format(value=", ".join(missing), packages=packages)
        )


def tidy_ocr_text(text: str) -> str:
    """Drop the spaces Tesseract puts between Han characters, and trailing blank lines."""
    lines = [_SPACE_BETWEEN_HAN.sub("", line).rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def ocr_image_bytes(image: bytes, options: OcrOptions | None = None) -> str:
    """OCR an image (PNG, JPEG, TIFF, …) given as bytes; return the tidied text."""
    options = options or OcrOptions()
    check_available(options.lang)
    exe = tesseract_path()
    assert exe is not None  # checked above
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [exe, "stdin", "stdout", "-l", options.lang],
            input=image,
            capture_output=True,
            timeout=options.timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"Tesseract took longer than {options.timeout:.0f} s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"Tesseract failed: {message[-1] if message else done.returncode}")
    return tidy_ocr_text(done.stdout.decode("utf-8", "replace"))
