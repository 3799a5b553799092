"""Import a catalogue (Kaggle layout: styles.csv + images/<id>.jpg) from a .zip or a folder.

    python manage.py import_catalog PATH [--dry-run] [--all-or-nothing] [--no-progress]

The work is catalogue/importing/ (plan, then apply); this command adds the progress bar and the
summary. A file that cannot be imported at all ends with CommandError naming it; see
docs/catalogue-import.md.
"""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalogue import importing
from catalogue.signals import announce_changed_products

# Rejected lines, unreadable images and ids without an image printed in the summary; the rest are counted.
LIST_LIMIT = 20


class Command(BaseCommand):
    help = (
        "Import products from a .zip or folder with styles.csv and images/<id>.jpg (the Kaggle layout) "
        "or a simple CSV (id, title, attributes). Idempotent: unchanged rows are left alone; changed "
        "rows update and are embedded again. Ends with a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="catalogue .zip or folder")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and compare with the catalogue; write nothing"
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="one transaction; import nothing if any row is rejected",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")

    def handle(self, *args, path, dry_run=False, all_or_nothing=False, no_progress=False, **options):
        source = Path(path).expanduser()
        # The stream call_command was given (or the real stdout): the bar goes where the summary goes.
        stream = options.get("stdout") or sys.stdout
        bar_stream = stream if not no_progress and stream.isatty() else None
        started = time.monotonic()
        applying = False
        try:
            with _ProgressBar("checking", bar_stream) as bar:
                plan = importing.plan_import(source, progress=bar.update)
            if dry_run:
                result = None
            else:
                applying = True
                with _ProgressBar("importing", bar_stream) as bar:
                    result = importing.apply_plan(plan, all_or_nothing=all_or_nothing, progress=bar.update)
                announce_changed_products(result.product_ids)
        except importing.ImportRefused as exc:
            message = str(exc)
            if not message.startswith((str(source), source.name)):
                message = f"{source}: {message}"
            if applying and not all_or_nothing:
                # Batches commit one by one: the ones before the failure are in, and re-running
                # the (idempotent) import finishes the rest.
                raise CommandError(
                    f"{message} Batches before this point were imported; run the command again to finish."
                ) from None
            raise CommandError(f"{message} Nothing was imported.") from None
        self._summary(plan, result, source, time.monotonic() - started)

    def _summary(self, plan, result, source: Path, seconds: float) -> None:
        write = self.stdout.write
        if result is None:
            write(f"Dry run of {source} ({plan.csv_name}, {plan.layout} layout): nothing was written.")
            counts = [
                ("would create", len(plan.created)),
                ("would update", len(plan.updated)),
                ("unchanged", len(plan.unchanged)),
            ]
        else:
            write(f"Imported {source} ({plan.csv_name}, {plan.layout} layout) in {seconds:.1f} s.")
            counts = [
                ("created", result.created),
                ("updated", result.updated),
                ("unchanged", result.unchanged),
            ]
        counts += [
            ("rejected", len(plan.rejected)),
            ("products without an image", len(plan.missing_images)),
            ("unreadable images (rows kept)", len(plan.unreadable_images)),
            ("images without a row", len(plan.orphan_images)),
        ]
        width = max(len(label) for label, _ in counts)
        for label, count in counts:
            write(f"  {label:<{width}}  {count:>7,}")
        _listing(write, "Rejected lines", [f"line {item.line}: {item.reason}" for item in plan.rejected])
        _listing(write, "Products without an image", plan.missing_images)
        _listing(
            write, "Unreadable images", [f"{item.name}: {item.reason}" for item in plan.unreadable_images]
        )
        _listing(write, "Images without a row", plan.orphan_images)


def _listing(write, title: str, lines: list[str]) -> None:
    if not lines:
        return
    write(f"{title}:")
    for line in lines[:LIST_LIMIT]:
        write(f"  {line}")
    if len(lines) > LIST_LIMIT:
        write(f"  ... and {len(lines) - LIST_LIMIT:,} more")


class _ProgressBar:
    """A tqdm bar fed by the import service's (done, total) callback; silent without a stream."""

    def __init__(self, label: str, stream):
        self.label = label
        self.stream = stream
        self.bar = None

    def __enter__(self):
        return self

    def update(self, done: int, total: int) -> None:
        if self.stream is None:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit="row", file=self.stream)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()
