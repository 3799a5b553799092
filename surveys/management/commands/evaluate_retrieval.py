"""`manage.py evaluate_retrieval`: Recall@1/5/10 and MRR of weight configurations on the catalogue."""

from django.core.management.base import BaseCommand, CommandError

from embeddings.selectors import UnknownSpace, space_named
from search.models import WeightConfig
from surveys.models import RetrievalEvaluation
from surveys.retrieval import EvaluationError, evaluate_retrieval

TASK_CHOICES = {
    "text": (RetrievalEvaluation.Task.TEXT_TO_IMAGE,),
    "image": (RetrievalEvaluation.Task.IMAGE_TO_IMAGE,),
    "both": (RetrievalEvaluation.Task.TEXT_TO_IMAGE, RetrievalEvaluation.Task.IMAGE_TO_IMAGE),
}


class Command(BaseCommand):
    help = (
        "Offline retrieval benchmark (Marqo-FashionCLIP KAGL protocol): text-to-image (title → products with "
        "the same title) and image-to-image (same article type and colour), Recall@1/5/10 and MRR per "
        "configuration through the two-stage search; stored and shown in the survey report."
    )

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="embedding space name")
        parser.add_argument("--configs", required=True, help="weight configuration names, comma-separated")
        parser.add_argument(
            "--queries", type=int, default=2000, help="queries sampled per task (default 2000)"
        )
        parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
        parser.add_argument("--task", choices=sorted(TASK_CHOICES), default="both")
        parser.add_argument("--exact", action="store_true", help="exact stage 1 instead of the HNSW index")

    def handle(self, *args, **options):
        try:
            space = space_named(options["space"])
        except UnknownSpace as error:
            raise CommandError(str(error)) from None
        names = [name.strip() for name in options["configs"].split(",") if name.strip()]
        if not names:
            raise CommandError("--configs needs at least one weight configuration name.")
        configs = []
        for name in names:
            config = WeightConfig.objects.filter(name=name, is_current=True).first()
            if config is None:
                known = ", ".join(WeightConfig.objects.filter(is_current=True).values_list("name", flat=True))
                raise CommandError(f"No weight configuration named {name!r} (known: {known or 'none'}).")
            configs.append(config)
        if options["queries"] < 1:
            raise CommandError("--queries must be at least 1.")
        try:
            results = evaluate_retrieval(
                space=space,
                configs=configs,
                tasks=TASK_CHOICES[options["task"]],
                n_queries=options["queries"],
                seed=options["seed"],
                exact=True if options["exact"] else None,
                progress=self._progress,
            )
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{'configuration':<28} {'task':<15} {'queries':>7} {'R@1':>7} {'R@5':>7} {'R@10':>7} {'MRR':>7}"
        )
        for row in results:
            self.stdout.write(
                f"{str(row.weight_config):<28} {row.task:<15} {row.n_queries:>7} {row.recall_at_1:>7.3f} "
                f"{row.recall_at_5:>7.3f} {row.recall_at_10:>7.3f} {row.mrr:>7.3f}"
            )
        self.stdout.write(
            "Single-modality queries use weight 1 for their own modality in both stages (docs/search-scoring.md): "
            "configurations that differ only in their text/image query weights score the same here."
        )
        if space.random_weights:
            self.stdout.write(
                self.style.WARNING(
                    f"{space.name} uses randomly initialised weights: these figures say nothing about retrieval quality."
                )
            )

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
