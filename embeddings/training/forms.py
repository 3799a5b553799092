"""The form that starts a fine-tuning run from the staff page (ranges are checked by TrainingParams)."""

from django import forms

from embeddings.models import EmbeddingSpace
from embeddings.training.params import TrainingParams

DEFAULTS = TrainingParams()


class TrainingRunForm(forms.Form):
    base_space = forms.ModelChoiceField(queryset=EmbeddingSpace.objects.all(), to_field_name="name")
    epochs = forms.IntegerField(initial=DEFAULTS.epochs)
    batch_size = forms.IntegerField(initial=DEFAULTS.batch_size)
    lr = forms.FloatField(label="Learning rate", initial=DEFAULTS.lr)
    weight_decay = forms.FloatField(initial=DEFAULTS.weight_decay)
    warmup_steps = forms.IntegerField(initial=DEFAULTS.warmup_steps)
    accum_steps = forms.IntegerField(label="Gradient accumulation steps", initial=DEFAULTS.accum_steps)
    checkpoint_every = forms.IntegerField(label="Checkpoint every (steps)", initial=DEFAULTS.checkpoint_every)
    split_seed = forms.IntegerField(initial=DEFAULTS.split_seed)
    group_by_title = forms.BooleanField(required=False, initial=DEFAULTS.group_by_title)
    lock_image_tower = forms.BooleanField(required=False)
    lock_text_tower = forms.BooleanField(required=False)

    def params(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "base_space"}
