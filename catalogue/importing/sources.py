"""Where an import reads from: a checked zip or a folder in the same layout, and its entries.

A zip is untrusted: every entry is checked before anything is read (fashionsite.uploads.check_zip:
absolute paths, '..', symlinks and device files, encryption, duplicate names, bomb limits). A
folder is read in place; symbolic links are refused. Images are decoded by the site's one
untrusted-image rule (fashionsite.uploads.decode_untrusted_image).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from django.conf import settings

from fashionsite.uploads import (
    DecodedImage,
    ImageRefused,
    UploadRefused,
    ZipRefused,
    decode_untrusted_image,
    open_zip,
    read_zip_entry,
)

__all__ = ["CatalogueFolder", "ImageRefused", "ImportRefused", "check_image", "open_source", "read_entry"]


class ImportRefused(UploadRefused):
    """The whole file is refused (unsafe zip, wrong CSV); the message names the file/entry/line."""


def check_image(data: bytes, *, name: str) -> DecodedImage:
    """A catalogue image decoded by the site's untrusted-image rule (ImageRefused names `name`).

    Bounded by the per-entry limit of a zip (FASHIONSITE_MAX_ZIP_ENTRY_BYTES) wherever it comes from.
    """
    return decode_untrusted_image(data, max_bytes=settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES, name=name)


class FolderEntry:
    """A file of a catalogue folder, with the attributes of zipfile.ZipInfo that the import reads."""

    def __init__(self, root: Path, path: Path):
        self.path = path
        self.filename = path.relative_to(root).as_posix()
        self.file_size = path.stat().st_size

    def is_dir(self) -> bool:
        return False


class CatalogueFolder:
    """A folder in the zip layout, read in place through the same interface as a ZipFile.

    Symbolic links are refused like zip symlink entries, so that a folder cannot make the
    import read files outside it.
    """

    def __init__(self, root: Path):
        self.root = root
        self._entries: dict[str, FolderEntry] = {}
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                raise ImportRefused(
                    f"{root}: {path.relative_to(root)} is a symbolic link; the folder is refused."
                )
            if path.is_file():
                entry = FolderEntry(root, path)
                self._entries[entry.filename] = entry

    def infolist(self) -> list[FolderEntry]:
        return list(self._entries.values())

    def getinfo(self, name: str) -> FolderEntry:
        return self._entries[name]

    def open(self, info: FolderEntry):
        return open(info.path, "rb")  # noqa: SIM115 - the caller closes it (like ZipFile.open)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_source(path: Path) -> zipfile.ZipFile | CatalogueFolder:
    """A catalogue zip (checked entry by entry) or folder, opened for reading."""
    if path.is_dir():
        return CatalogueFolder(path)
    if not path.exists():
        raise ImportRefused(f"{path} does not exist: give a catalogue .zip or a folder with styles.csv.")
    try:
        return open_zip(path)
    except ZipRefused as exc:
        raise ImportRefused(str(exc)) from None


def read_entry(archive: zipfile.ZipFile | CatalogueFolder, info) -> bytes:
    """One entry's bytes; ImportRefused past FASHIONSITE_MAX_ZIP_ENTRY_BYTES or when it cannot be read."""
    try:
        return read_zip_entry(archive, info)
    except ZipRefused as exc:
        raise ImportRefused(f"{archive_label(archive)}: {exc}") from None


def archive_label(archive) -> str:
    if isinstance(archive, CatalogueFolder):
        return str(archive.root)
    return Path(archive.filename or "the zip").name
