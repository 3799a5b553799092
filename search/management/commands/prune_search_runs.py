"""Retention: delete anonymous public search runs older than SEARCH_RETENTION_DAYS (cron it daily)."""

from django.core.management.base import BaseCommand, CommandError

from search.services import prune_search_runs


class Command(BaseCommand):
    help = (
        "Delete anonymous public search runs older than SEARCH_RETENTION_DAYS that no survey pinned. "
        "Runs by signed-in users, API and survey runs are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="override SEARCH_RETENTION_DAYS")

    def handle(self, *args, days=None, **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more")
        deleted = prune_search_runs(older_than_days=days)
        self.stdout.write(f"Deleted {deleted} search run(s).")
