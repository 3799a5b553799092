from django.core.management.base import BaseCommand, CommandError

from embeddings.selectors import UnknownSpace, space_named
from embeddings.transfer import EmbeddingFileError, load_space


class Command(BaseCommand):
    help = "Load vectors exported from a space with the same identity (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True)
        parser.add_argument("file")

    def handle(self, *args, space, file, **options):
        try:
            found = space_named(space)
        except UnknownSpace as error:
            raise CommandError(str(error)) from None
        try:
            n = load_space(found, file)
        except EmbeddingFileError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"loaded {n} products into space {space}")
