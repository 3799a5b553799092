from django.core.management.base import BaseCommand, CommandError

from embeddings.selectors import UnknownSpace, space_named
from embeddings.transfer import EmbeddingFileError, export_space


class Command(BaseCommand):
    help = (
        "Export a space's vectors with product ids and the space identity to OUT.parquet, or to "
        "OUT.npz (an OUT.npy name is written as OUT.npz)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True)
        parser.add_argument("out")

    def handle(self, *args, space, out, **options):
        try:
            found = space_named(space)
        except UnknownSpace as error:
            raise CommandError(str(error)) from None
        try:
            n, written = export_space(found, out)
        except EmbeddingFileError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"exported {n} products of space {space} to {written}")
