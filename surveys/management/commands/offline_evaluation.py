"""`manage.py offline_evaluation`: the published protocol, arms on composed queries, or a weight sweep,
run in this process and stored as an OfflineEvaluation (the page /surveys/offline/ shows it)."""

import json

from django.core.management.base import BaseCommand, CommandError

from embeddings.selectors import UnknownSpace, space_named
from search.models import WeightConfig
from surveys.offline import jobs
from surveys.offline.models import OfflineEvaluation


class Command(BaseCommand):
    help = (
        "Offline evaluation: --kind protocol (Marqo KAGL tasks + image-to-image), composed (arms on composed, "
        "text-only and image-only queries) or sweep (21x21 weight grid on composed queries); stored and printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=OfflineEvaluation.Kind.values, required=True)
        parser.add_argument("--space", required=True, help="embedding space name")
        parser.add_argument("--configs", default="", help="weight configuration names, comma-separated")
        parser.add_argument("--queries", type=int, default=200, help="queries per task or query kind")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--grid", type=int, default=jobs.MAX_GRID, help="sweep grid steps per stage (2-21)"
        )

    def handle(self, *args, **options):
        try:
            space = space_named(options["space"])
        except UnknownSpace as error:
            raise CommandError(str(error)) from None
        configs = []
        for name in [n.strip() for n in options["configs"].split(",") if n.strip()]:
            config = WeightConfig.objects.filter(name=name, is_current=True).first()
            if config is None:
                raise CommandError(f"No weight configuration named {name!r}.")
            configs.append(config)
        if options["kind"] != OfflineEvaluation.Kind.SWEEP and not configs:
            raise CommandError("--configs needs at least one weight configuration name for this kind.")
        if not 1 <= options["queries"] <= jobs.MAX_QUERIES:
            raise CommandError(f"--queries must be between 1 and {jobs.MAX_QUERIES}.")
        if not 2 <= options["grid"] <= jobs.MAX_GRID:
            raise CommandError(f"--grid must be between 2 and {jobs.MAX_GRID}.")
        evaluation = OfflineEvaluation.objects.create(
            kind=options["kind"],
            space=space,
            parameters={
                "n_queries": options["queries"],
                "seed": options["seed"],
                "grid_steps": options["grid"],
                "image_shares": [1.0],
            },
        )
        evaluation.configs.set(configs)
        jobs.run_evaluation(evaluation_id=evaluation.pk)
        evaluation.refresh_from_db()
        if evaluation.status == OfflineEvaluation.Status.FAILED:
            raise CommandError(evaluation.error)
        result = evaluation.result
        if evaluation.kind == OfflineEvaluation.Kind.SWEEP:
            best = result["best"]
            self.stdout.write(
                f"best point: stage-1 text {best['stage1_text']}, stage-2 text {best['stage2_text']}, "
                f"{result['metric']} {best['mean']:.3f} [{best['low']:.3f}, {best['high']:.3f}] over {best['n']} queries"
            )
        else:
            self.stdout.write(json.dumps(result.get("rows") or result.get("estimates"), indent=1))
        self.stdout.write(f"stored as offline evaluation #{evaluation.pk}")
