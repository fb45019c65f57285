"""Cleaned copies of attachments: images and PDFs without the metadata that can identify people.

Reporters' photos and documents often carry camera serial numbers, GPS positions, author names
and editing software. The committee may need to share evidence further without exposing the
reporter, so ``safevoice cases download --strip-metadata`` writes a cleaned copy beside each
original: images are re-encoded from their pixels alone (Pillow), PDFs lose their document
information and XMP metadata (pikepdf, on qpdf). Originals are never changed.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp"}


def cleaned_path(original: Path) -> Path:
    return original.with_name(f"{original.stem}.clean{original.suffix}")


def strip_image(original: Path, target: Path) -> None:
    with Image.open(original) as image:
        fmt = image.format
        upright = ImageOps.exif_transpose(image)
        # A new image from the pixels alone carries no EXIF, XMP, ICC or text chunks.
        bare = Image.frombytes(upright.mode, upright.size, upright.tobytes())
        if upright.mode == "P" and upright.getpalette():
            bare.putpalette(upright.getpalette() or [])
        bare.save(target, format=fmt)


def strip_pdf(original: Path, target: Path) -> None:
    with pikepdf.open(original) as pdf:
        for key in list(pdf.docinfo.keys()):
            del pdf.docinfo[key]
        if "/Metadata" in pdf.Root:
            del pdf.Root.Metadata
        pdf.save(target)


def strip_metadata(original: Path) -> Path | None:
    """Write a cleaned copy if the type is known; return its path (None if not cleanable)."""
    suffix = original.suffix.lower()
    target = cleaned_path(original)
    try:
        if suffix in IMAGE_SUFFIXES:
            strip_image(original, target)
        elif suffix == ".pdf":
            strip_pdf(original, target)
        else:
            return None
    except (UnidentifiedImageError, OSError, pikepdf.PdfError):
        target.unlink(missing_ok=True)
        return None
    return target
