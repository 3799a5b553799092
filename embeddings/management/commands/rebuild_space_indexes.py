from django.core.management.base import BaseCommand, CommandError

from embeddings.ann import STORAGE_OPS
from embeddings.index_builds import index_parameters, rebuild_space_indexes
from embeddings.models import EmbeddingSpace, ProductEmbedding
from embeddings.selectors import UnknownSpace, active_space, space_named, space_names


class Command(BaseCommand):
    help = (
        "Rebuild a space's HNSW indexes while it is searched: new m / ef_construction (a denser "
        "graph for a large catalogue) or vector / halfvec storage. Searches keep the old indexes "
        "until the new ones are built (docs/search-scoring.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--space", help="the space's name (default: the active space)")
        parser.add_argument("--storage", choices=sorted(STORAGE_OPS), help="default: as now")
        parser.add_argument("--m", type=int, help="HNSW m (default: as now)")
        parser.add_argument("--ef-construction", type=int, help="HNSW ef_construction (default: as now)")
        parser.add_argument(
            "--maintenance-work-mem", help="PostgreSQL memory for the build, e.g. 3GB (default: the server's)"
        )

    def handle(self, *args, space, storage, m, ef_construction, maintenance_work_mem, **options):
        found = self._space(space)
        before = index_parameters(found.pk)
        vectors = ProductEmbedding.objects.filter(space=found).count()
        self.stdout.write(f"Space {found.name} ({vectors} vectors)")
        self.stdout.write(f"  before: {before.describe() if before else 'no index'}")
        try:
            rebuilt = rebuild_space_indexes(
                found,
                storage=storage,
                m=m,
                ef_construction=ef_construction,
                maintenance_work_mem=maintenance_work_mem,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        how = "online" if rebuilt.online else "inside a transaction"
        self.stdout.write(f"  after: {rebuilt.after.describe()}, built {how} in {rebuilt.seconds:.1f} s")

    def _space(self, name: str | None) -> EmbeddingSpace:
        if name:
            try:
                return space_named(name)
            except UnknownSpace as error:
                raise CommandError(str(error)) from None
        found = active_space()
        if found is None:
            raise CommandError(f"No space is active; name one with --space (spaces: {space_names()})")
        return found
