"""Import a catalogue (Kaggle layout: styles.csv + images/<id>.jpg) from a .zip or a folder."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from search import importing

# Rejected lines and unreadable images printed in the summary; the rest are counted.
LIST_LIMIT = 20


class Command(BaseCommand):
    help = (
        "Import products from a .zip or folder with styles.csv and images/<id>.jpg (the Kaggle layout) "
        "or a simple CSV (id, title, attributes). Idempotent: unchanged rows are left alone; changed "
        "rows update and their embeddings are queued again. Ends with a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="catalogue .zip or folder")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and compare with the catalogue; write nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")

    def handle(self, *args, path, dry_run=False, no_progress=False, **options):
        source = Path(path).expanduser()
        show_progress = not no_progress and sys.stdout.isatty()
        started = time.monotonic()
        try:
            with _ProgressBar("checking", show_progress) as bar:
                plan = importing.plan_import(source, progress=bar.update)
            if dry_run:
                result = None
            else:
                with _ProgressBar("importing", show_progress) as bar:
                    result = importing.apply_plan(plan, progress=bar.update)
                importing.queue_embeddings(result.product_ids)
        except importing.ImportRefused as exc:
            raise CommandError(f"{source}: {exc} Nothing was imported.") from None
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
            ("unreadable images", len(plan.unreadable_images)),
            ("images without a row", len(plan.orphan_images)),
        ]
        width = max(len(label) for label, _ in counts)
        for label, count in counts:
            write(f"  {label:<{width}}  {count:>7,}")
        _listing(write, "Rejected lines", [f"line {item.line}: {item.reason}" for item in plan.rejected])
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
    """A tqdm bar fed by the import service's (done, total) callback; silent off a terminal."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled
        self.bar = None

    def __enter__(self):
        return self

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit="row", file=sys.stdout)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()
