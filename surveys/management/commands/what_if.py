"""`manage.py what_if --survey SLUG`: score weight configurations against a survey's pooled
per-product judgements (surveys.offline.judgements): named configurations, or a weight grid
(`--grid N`: N × N stage-1 × stage-2 text weights, best first), with judged@10 beside nDCG@10."""

from django.core.management.base import BaseCommand, CommandError

from search.models import WeightConfig
from surveys.models import Survey
from surveys.offline import judgements

MAX_GRID = 11


def _fmt(estimate: dict) -> str:
    return f"{estimate['mean']:.3f} [{estimate['low']:.3f}, {estimate['high']:.3f}]"


class Command(BaseCommand):
    help = "Score configurations (or a weight grid) against a survey's judged pool: nDCG@10, judged@10, condensed nDCG@10."

    def add_arguments(self, parser):
        parser.add_argument("--survey", required=True, help="survey slug")
        parser.add_argument("--configs", default="", help="weight configuration names, comma-separated")
        parser.add_argument(
            "--grid", type=int, default=0, help=f"sweep a grid of 2-{MAX_GRID} steps per stage"
        )
        parser.add_argument("--rule", choices=sorted(judgements.RULES), default="majority")

    def handle(self, *args, **options):
        survey = Survey.objects.filter(slug=options["survey"]).first()
        if survey is None:
            raise CommandError(f"No survey with slug {options['survey']!r}.")
        names = [n.strip() for n in options["configs"].split(",") if n.strip()]
        grid = options["grid"]
        if not names and not grid:
            raise CommandError("Name configurations with --configs, or sweep a grid with --grid N.")
        if grid and not 2 <= grid <= MAX_GRID:
            raise CommandError(f"--grid must be between 2 and {MAX_GRID} (got {grid}).")
        if not judgements.survey_judgements(survey):
            raise CommandError(
                f"Survey {survey.slug!r} has no per-product judgements yet: nothing to score against "
                "(add a relevance or graded question and collect answers)."
            )
        for name in names:
            config = WeightConfig.objects.filter(name=name, is_current=True).first()
            if config is None:
                raise CommandError(f"No weight configuration named {name!r}.")
            scores = {
                m: e.as_dict() for m, e in judgements.what_if(survey, config, rule=options["rule"]).items()
            }
            self.stdout.write(
                f"{config.label}: nDCG@10 {_fmt(scores['ndcg@10'])}, judged@10 {_fmt(scores['judged@10'])}, "
                f"condensed nDCG@10 {_fmt(scores['condensed_ndcg@10'])}"
            )
        if grid:
            weights = tuple(round(i / (grid - 1), 4) for i in range(grid))
            rows = judgements.what_if_sweep(
                survey, stage1_weights=weights, stage2_weights=weights, rule=options["rule"]
            )
            self.stdout.write("stage-1 text  stage-2 text  nDCG@10  judged@10  condensed nDCG@10")
            for row in rows:
                self.stdout.write(
                    f"{row['stage1_text']:.2f}  {row['stage2_text']:.2f}  {_fmt(row['ndcg@10'])}  "
                    f"{_fmt(row['judged@10'])}  {_fmt(row['condensed_ndcg@10'])}"
                )
