from django.core.management.base import BaseCommand, CommandError

from embeddings.models import EmbeddingSpace
from embeddings.transfer import EmbeddingFileError, load_space


class Command(BaseCommand):
    help = "Load vectors exported from a space with the same identity (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True)
        parser.add_argument("file")

    def handle(self, *args, space, file, **options):
        found = EmbeddingSpace.objects.filter(name=space).first()
        if found is None:
            raise CommandError(f"no embedding space named {space!r}")
        try:
            n = load_space(found, file)
        except EmbeddingFileError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"loaded {n} products into space {space}")
