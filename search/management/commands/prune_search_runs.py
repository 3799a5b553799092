"""Retention: delete anonymous public search runs older than SEARCH_RETENTION_DAYS (cron it daily),
and the uploaded query images no remaining run uses."""

from django.core.management.base import BaseCommand, CommandError

from search.services import prune_search_runs


class Command(BaseCommand):
    help = (
        "Delete anonymous public search runs older than SEARCH_RETENTION_DAYS that no survey pinned "
        "or cites, and query images no remaining run uses. Runs by signed-in users, API and survey "
        "runs are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="override SEARCH_RETENTION_DAYS")

    def handle(self, *args, days=None, **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more")
        pruned = prune_search_runs(older_than_days=days)
        self.stdout.write(f"Deleted {pruned.runs} search run(s) and {pruned.query_images} query image(s).")
