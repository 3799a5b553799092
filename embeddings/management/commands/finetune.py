import time

from django.core.management.base import BaseCommand, CommandError

from embeddings.models import TrainingRun
from embeddings.training.params import TrainingSetupError
from embeddings.training.services import (
    cancel_training_run,
    resolve_base_space,
    resume_training_run,
    start_training_run,
)

# option name → TrainingParams field (only the options given are passed: the rest keep their defaults)
PARAM_OPTIONS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "warmup_steps": "warmup_steps",
    "accum_steps": "accum_steps",
    "checkpoint_every": "checkpoint_every",
    "split_seed": "split_seed",
}


class Command(BaseCommand):
    help = (
        "Fine-tune the model of an embedding space on the catalogue's image-text pairs, as a run on the "
        "Celery 'training' queue (start a GPU worker with `celery -A fashionsite worker -Q training`). "
        "--wait shows a progress bar and, at the end, base vs fine-tuned on the test split."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--from-space", metavar="NAME", help="the base space whose model is fine-tuned")
        action.add_argument("--resume", type=int, metavar="RUN", help="resend an unfinished run's task")
        action.add_argument("--cancel", type=int, metavar="RUN", help="stop a run at its next step")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--lr", type=float, help="peak learning rate (after warmup)")
        parser.add_argument("--weight-decay", type=float)
        parser.add_argument("--warmup-steps", type=int)
        parser.add_argument("--accum-steps", type=int, help="micro-batches per optimizer step")
        parser.add_argument("--checkpoint-every", type=int, metavar="STEPS")
        parser.add_argument("--split-seed", type=int)
        parser.add_argument("--lock-image-tower", action="store_true")
        parser.add_argument("--lock-text-tower", action="store_true")
        parser.add_argument("--no-group-by-title", action="store_true", help="split by catalogue id alone")
        parser.add_argument("--no-amp", action="store_true", help="full precision on CUDA too")
        parser.add_argument("--wait", action="store_true", help="wait with a progress bar")

    def handle(self, *args, **options):
        if options["resume"] or options["cancel"]:
            run = TrainingRun.objects.filter(pk=options["resume"] or options["cancel"]).first()
            if run is None:
                raise CommandError(f"no training run {options['resume'] or options['cancel']}")
            if options["cancel"]:
                cancel_training_run(run)
                self.stdout.write(f"run {run.pk}: cancel requested")
                return
            if not resume_training_run(run):
                raise CommandError(f"run {run.pk} is already {run.status}")
            self.stdout.write(
                f"run {run.pk}: task sent again (it resumes from step {run.step} or its checkpoint)"
            )
        else:
            run = self._start(options)
        if options["wait"]:
            self._wait(run)

    def _start(self, options) -> TrainingRun:
        params = {field: options[name] for name, field in PARAM_OPTIONS.items() if options[name] is not None}
        params.update(
            lock_image_tower=options["lock_image_tower"],
            lock_text_tower=options["lock_text_tower"],
            group_by_title=not options["no_group_by_title"],
            amp=not options["no_amp"],
        )
        try:
            space = resolve_base_space(options["from_space"])
            run = start_training_run(base_space=space, params=params)
        except TrainingSetupError as error:
            options_named = {
                "base_space": "from_space",
                "group_by_title": "no_group_by_title",
                "amp": "no_amp",
            }
            lines = [
                f"  --{options_named.get(name, name).replace('_', '-')}: {message}"
                for name, message in error.errors.items()
            ]
            raise CommandError("cannot start fine-tuning:\n" + "\n".join(lines)) from error
        split = {name: len(ids) for name, ids in run.split.items()}
        self.stdout.write(
            f"run {run.pk}: fine-tuning {space.name} ({space.model_name}) on {split['train']} products "
            f"(validation {split['val']}, test {split['test']}), {run.total_steps} steps, queued on 'training'"
        )
        return run

    def _wait(self, run: TrainingRun) -> None:
        from tqdm import tqdm

        with tqdm(total=run.total_steps, unit="step", desc=f"run {run.pk}") as bar:
            while True:
                run.refresh_from_db()
                bar.total = run.total_steps
                bar.n = run.step
                loss = run.loss_curve[-1][1] if run.loss_curve else None
                bar.set_postfix(
                    epoch=run.epoch, loss=None if loss is None else f"{loss:.3f}", status=run.status
                )
                bar.refresh()
                if run.is_finished:
                    break
                time.sleep(1.0)
        self.stdout.write(f"run {run.pk} {run.status}: {run.step} steps, {run.epoch} epochs")
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(f"run {run.pk} failed: {run.last_error}")
        if run.result_space_id:
            self.stdout.write(f"new space {run.result_space.name} (embedding job queued)")
            self._comparison(run.evaluation)

    def _comparison(self, evaluation: dict) -> None:
        if "base" not in evaluation:
            return
        self.stdout.write(f"test split ({evaluation['n_products']} products), mean [95% bootstrap interval]:")
        for task in ("text_to_image", "image_to_text"):
            for model in ("base", "finetuned"):
                cells = [
                    f"{name} {m['mean']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
                    for name, m in evaluation[model][task].items()
                    if isinstance(m, dict)
                ]
                self.stdout.write(f"  {task:14} {model:9} " + "  ".join(cells))
