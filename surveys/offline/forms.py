"""Forms of the offline evaluation pages: start a job, create a configuration from a sweep point."""

from django import forms

from embeddings.models import EmbeddingSpace
from search.models import WeightConfig
from surveys.offline.jobs import MAX_GRID, MAX_QUERIES
from surveys.offline.models import OfflineEvaluation

SHARE_CHOICES = [
    ("1", "image only (1/0)"),
    ("1,0.5", "1/0 and 0.5/0.5"),
    ("1,0.75,0.5,0.25", "1/0 to 0.25/0.75"),
]


class StartEvaluationForm(forms.Form):
    kind = forms.ChoiceField(choices=OfflineEvaluation.Kind.choices)
    space = forms.ModelChoiceField(queryset=EmbeddingSpace.objects.order_by("name"))
    configs = forms.ModelMultipleChoiceField(
        queryset=WeightConfig.objects.filter(is_current=True).order_by("name"),
        required=False,
        help_text="the arms (not used by a sweep)",
    )
    n_queries = forms.IntegerField(
        min_value=1, max_value=MAX_QUERIES, initial=200, label="queries (per task or query kind)"
    )
    seed = forms.IntegerField(min_value=0, initial=0)
    grid_steps = forms.IntegerField(
        min_value=2, max_value=MAX_GRID, initial=MAX_GRID, label="grid steps per stage (sweep)"
    )
    image_shares = forms.ChoiceField(choices=SHARE_CHOICES, label="product image shares (sweep)")

    def clean(self):
        data = super().clean()
        if data.get("kind") != OfflineEvaluation.Kind.SWEEP and not data.get("configs"):
            self.add_error("configs", "Choose at least one weight configuration to evaluate.")
        return data

    def shares(self) -> tuple[float, ...]:
        return tuple(float(x) for x in self.cleaned_data["image_shares"].split(","))


class ConfigFromPointForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="name of the new weight configuration")
    stage1_text = forms.FloatField(min_value=0, max_value=1)
    stage2_text = forms.FloatField(min_value=0, max_value=1)
    image_share = forms.FloatField(min_value=0, max_value=1)
