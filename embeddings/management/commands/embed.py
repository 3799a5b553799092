import time

from django.core.management.base import BaseCommand, CommandError

from embeddings.encoders import WeightsUnavailable
from embeddings.models import EmbeddingJob
from embeddings.selectors import UnknownSpace, space_named
from embeddings.services import ensure_space_from_settings, resume_job, start_embedding_job


class Command(BaseCommand):
    help = (
        "Queue an embedding job for a space (missing or stale products by default) on the Celery "
        "'embeddings' queue; --wait shows a progress bar until it finishes. --resume JOB resends "
        "the batches of a job that are not done (e.g. after a Redis restart)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--space", help="space name (default: the space from EMBEDDINGS_* settings)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--all", action="store_true", help="re-embed every product")
        mode.add_argument("--missing", action="store_true", help="missing or stale products (default)")
        mode.add_argument("--products", help="comma-separated product ids")
        mode.add_argument("--resume", type=int, metavar="JOB", help="resend the unfinished batches of JOB")
        parser.add_argument("--wait", action="store_true", help="wait with a progress bar")

    def handle(self, *args, **options):
        if options["resume"]:
            job = EmbeddingJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"no embedding job {options['resume']}")
            n = resume_job(job)
            self.stdout.write(f"job {job.pk}: resent {n} unfinished batches")
        else:
            space = self._space(options["space"])
            if options["products"]:
                try:
                    ids = [int(x) for x in options["products"].split(",") if x.strip()]
                except ValueError as error:
                    raise CommandError(f"--products takes comma-separated integer ids: {error}") from error
                job = start_embedding_job(space, kind="given", product_ids=ids)
            else:
                job = start_embedding_job(space, kind="all" if options["all"] else "missing")
            self.stdout.write(f"job {job.pk}: {job.total} products of space {space.name} queued")
        if options["wait"]:
            self._wait(job)

    def _space(self, name):
        if name:
            try:
                return space_named(name)
            except UnknownSpace as error:
                raise CommandError(str(error)) from None
        try:
            return ensure_space_from_settings()
        except WeightsUnavailable as error:
            raise CommandError(str(error)) from error

    def _wait(self, job):
        from tqdm import tqdm

        with tqdm(total=job.total, unit="product", desc=f"job {job.pk}") as bar:
            while True:
                job.refresh_from_db()
                bar.n = job.processed
                bar.set_postfix(failed=job.failed, status=job.status)
                bar.refresh()
                if job.status in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.5)
        self.stdout.write(f"job {job.pk} {job.status}: {job.done} embedded, {job.failed} failed")
        if job.status == "failed":
            raise CommandError(f"job {job.pk} failed: {job.last_error}")
