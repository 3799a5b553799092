"""Plain Django forms: the participant's task form (built from the survey's questions) and the
researcher's design forms."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from embeddings.models import EmbeddingSpace
from embeddings.selectors import space_coverage
from search.models import WeightConfig
from surveys.blinding import blinding_problem
from surveys.fields import int_radio_field
from surveys.graded import DEFAULT_GRADE_LABELS, graded_answer, graded_fields
from surveys.models import Question, Survey
from surveys.services.design import QUESTION_FIELDS, RESULT_SETTINGS, SURVEY_FIELDS


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        label="I have read the information above and agree to take part.",
        error_messages={"required": "Please tick the box to agree before you start, or close this page."},
    )


class TaskForm(forms.Form):
    """The questions of one task. Field `q<id>` per question; relevance is one checkbox per product."""

    def __init__(self, *args, questions, products, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        self.products = list(products)
        for question in self.questions:
            name = f"q{question.pk}"
            if question.kind == Question.Kind.MATCH:
                self.fields[name] = forms.ChoiceField(
                    label=question.wording,
                    choices=Question.MATCH_CHOICES,
                    widget=forms.RadioSelect,
                    required=question.required,
                    error_messages={
                        "required": "Please choose yes, partly or no.",
                        "invalid_choice": "Please choose yes, partly or no.",
                    },
                )
            elif question.kind in (Question.Kind.SATISFACTION, Question.Kind.ATTENTION):
                # An attention check uses the same 1–5 radio buttons; only its wording differs.
                low, high = Question.SATISFACTION_RANGE
                choices = []
                for value in range(low, high + 1):
                    label = str(value)
                    if value == low and question.low_label:
                        label = f"{value} – {question.low_label}"
                    elif value == high and question.high_label:
                        label = f"{value} – {question.high_label}"
                    choices.append((str(value), label))
                self.fields[name] = int_radio_field(
                    label=question.wording,
                    choices=choices,
                    required=question.required,
                    required_message=f"Please choose a number from {low} to {high}.",
                    invalid_message=f"Please choose a number from {low} to {high}.",
                )
            elif question.kind == Question.Kind.GRADED:
                self.fields.update(graded_fields(question, self.products))
            elif question.kind == Question.Kind.RELEVANCE:
                self.fields[name] = forms.MultipleChoiceField(
                    label=question.wording,
                    choices=[
                        (product.catalog_id, product.title or product.catalog_id) for product in self.products
                    ],
                    widget=forms.CheckboxSelectMultiple,
                    required=False,
                )
            elif question.kind == Question.Kind.COMMENT:
                self.fields[name] = forms.CharField(
                    label=question.wording,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    required=question.required,
                    max_length=2000,
                )

    def question_rows(self) -> list[dict]:
        """Each question with its choices pre-computed, so the page renders plain inputs (fast,
        no widget template per radio button): {"field", "input_type", "choices": [{id, value, label, checked}]}."""
        rows = []
        # A graded question has one field per product ("q<pk>-<catalog id>"); the rest one ("q<pk>").
        by_name = {f"q{question.pk}": question for question in self.questions}
        for bound in self:
            question = by_name[bound.name.split("-", 1)[0]]
            input_type = getattr(bound.field.widget, "input_type", "")
            choices = []
            if input_type in ("radio", "checkbox"):
                current = bound.value()
                selected = {
                    str(v) for v in (current if isinstance(current, list | tuple) else [current]) if v
                }
                choices = [
                    {
                        "id": f"{bound.auto_id}_{index}",
                        "value": value,
                        "label": label,
                        "checked": str(value) in selected,
                    }
                    for index, (value, label) in enumerate(bound.field.choices)
                ]
            rows.append(
                {
                    "field": bound,
                    "input_type": input_type,
                    "choices": choices,
                    "kind": question.kind,
                    # Where the error summary's link for this question points (its first input).
                    "anchor": choices[0]["id"] if choices else bound.auto_id,
                    # 1–5 questions take the number keys (aria-keyshortcuts on each radio button).
                    "scale": question.kind in (Question.Kind.SATISFACTION, Question.Kind.ATTENTION),
                }
            )
        return rows

    def draft_values(self) -> dict:
        """The answers given so far, unchecked for completeness (a draft may lack required ones):
        {field name: value or [values]}, keeping only offered choices and at most the comment length."""
        values = {}
        for name, field in self.fields.items():
            if isinstance(field, forms.ChoiceField):
                offered = {str(value) for value, _ in field.choices}
                raw = (
                    self.data.getlist(name)
                    if isinstance(field, forms.MultipleChoiceField)
                    else [self.data.get(name)]
                )
                chosen = [value for value in raw if value in offered]
                value = chosen if isinstance(field, forms.MultipleChoiceField) else next(iter(chosen), "")
            else:
                value = (self.data.get(name) or "")[: field.max_length]
            if value:
                values[name] = value
        return values

    def answers(self) -> dict:
        """{Question: value}; relevance becomes {catalog id: bool} over every shown product."""
        result = {}
        for question in self.questions:
            value = self.cleaned_data.get(f"q{question.pk}")
            if question.kind == Question.Kind.GRADED:
                value = graded_answer(question, self.cleaned_data, self.products)
            elif question.kind == Question.Kind.RELEVANCE:
                marked = set(value or [])
                value = {product.catalog_id: product.catalog_id in marked for product in self.products}
            result[question] = value
        return result


class SurveyForm(forms.ModelForm):
    weight_configs = forms.ModelMultipleChoiceField(
        queryset=WeightConfig.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        help_text="two or more; participants never see their names",
    )

    class Meta:
        model = Survey
        fields = list(SURVEY_FIELDS)

    second_space = forms.ModelChoiceField(
        queryset=EmbeddingSpace.objects.all(),
        required=False,
        label="Also compare in space",
        help_text="each chosen configuration is also searched in this space (e.g. a fine-tuned model): "
        "the arms are then (space, configuration) pairs",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Model help texts are not escaped by form rendering: "<slug>" would vanish as a tag.
        self.fields["allow_open_link"].help_text = (
            "anyone with the survey's open link (/surveys/s/your-slug/, shown on the survey page once "
            "it is open) may join"
        )
        if self.instance.pk:
            self._lock_what_participants_saw()
            arms = list(self.instance.configs.all())
            self.fields["weight_configs"].initial = list(
                dict.fromkeys(c.weight_config_id for c in arms if not c.space_id)
            )
            self.fields["second_space"].initial = next((c.space_id for c in arms if c.space_id), None)
        self.fields["task_kind"].required = False
        # Only fully embedded spaces can be chosen: results from a half-embedded space would miss products.
        coverage = space_coverage()
        ready = [row["space"].pk for row in coverage if row["total"] and row["embedded"] == row["total"]]
        for name in ("space", "second_space"):
            self.fields[name].queryset = EmbeddingSpace.objects.filter(pk__in=ready)
        embedding = [
            f"{row['space'].name} ({row['percent']}% embedded)"
            for row in coverage
            if row["space"].pk not in ready
        ]
        if embedding:
            self.fields["space"].help_text = (
                "only fully embedded spaces can be chosen; still embedding: " + ", ".join(embedding)
            )

    def clean_task_kind(self):
        # Absent from older clients' posts: a rating survey, the default.
        return self.cleaned_data.get("task_kind") or Survey.TaskKind.RATING

    def _lock_what_participants_saw(self) -> None:
        """Once participants were shown results, what decides a cell's results cannot change: those
        fields are shown disabled with the reason (and a posted value is ignored)."""
        survey = self.instance
        locked = []
        if survey.participants.filter(assignments__isnull=False).exists():
            locked += RESULT_SETTINGS
        if survey.status != Survey.Status.DRAFT and survey.participants.exists():
            locked += ["weight_configs", "second_space"]
        for name in locked:
            field = self.fields[name]
            field.disabled = True
            field.help_text = "Locked: participants have already been shown results computed with this."

    def arms(self) -> list:
        """The compared arms: each configuration in the survey's space, and in the second space if any."""
        configs = list(self.cleaned_data["weight_configs"])
        second = self.cleaned_data.get("second_space")
        return configs + [(second, config) for config in configs] if second else configs

    def clean_second_space(self):
        second = self.cleaned_data.get("second_space")
        space = self.cleaned_data.get("space")
        if second is not None and (second == space or (space is None and second.is_active)):
            raise ValidationError("Choose a space other than the survey's own to compare with.")
        return second

    def clean(self):
        data = super().clean()
        configs = data.get("weight_configs")
        if configs is not None and len(configs) * (2 if data.get("second_space") else 1) < 2:
            self.add_error(
                "weight_configs",
                "Choose at least two weight configurations to compare, or one compared in a second space.",
            )
        problem = blinding_problem(
            hidden=data.get("arms_hidden_from_public_search", False), configs=data.get("weight_configs") or []
        )
        if problem:
            self.add_error("weight_configs", problem)
        if data.get("task_kind") == Survey.TaskKind.SIDE_BY_SIDE and data.get("own_query_tasks"):
            self.add_error(
                "own_query_tasks",
                "A side-by-side survey compares two arms on the survey's queries; set own queries to 0.",
            )
        return data

    def service_arguments(self) -> dict:
        """The cleaned form as `services.update_survey` keyword arguments (arms included)."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields} | {"weight_configs": self.arms()}

    def clean_results_per_task(self):
        value = self.cleaned_data["results_per_task"]
        if not 1 <= value <= 100:
            raise ValidationError("Show between 1 and 100 products per task.")
        return value


class QuestionForm(forms.ModelForm):
    grade_labels = forms.CharField(
        required=False,
        max_length=300,
        help_text="graded relevance: labels of 0, 1, 2, … separated by | (empty: "
        + " | ".join(DEFAULT_GRADE_LABELS)
        + ")",
    )

    class Meta:
        model = Question
        # The fields the design service saves (one list: surveys.services.design.QUESTION_FIELDS).
        fields = list(QUESTION_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The model keeps a list; the field edits "a | b | c" (an empty list is an empty field,
            # not the text "[]", which would come back as one label).
            self.initial["grade_labels"] = " | ".join(self.instance.grade_labels or [])

    def clean_grade_labels(self):
        labels = [
            label.strip()
            for label in (self.cleaned_data.get("grade_labels") or "").split("|")
            if label.strip()
        ]
        if len(labels) == 1:
            raise ValidationError("Give at least two grade labels (for 0 and 1), separated by |, or none.")
        return labels

    def clean(self):
        data = super().clean()
        low, high = Question.SATISFACTION_RANGE
        if data.get("kind") == Question.Kind.ATTENTION:
            if data.get("expected_value") is None or not low <= data["expected_value"] <= high:
                self.add_error(
                    "expected_value",
                    f"An attention check needs the answer ({low}–{high}) its wording asks for, "
                    "e.g. 2 for “To show you are reading carefully, choose 2.”",
                )
        else:
            data["expected_value"] = None
        return data


QuestionFormSet = forms.modelformset_factory(Question, form=QuestionForm, extra=1, can_delete=True)


def question_changes(formset) -> dict:
    """A valid QuestionFormSet as `services.save_questions` keyword arguments."""
    deleted = [form for form in formset.deleted_forms if form.instance.pk]
    changed = [
        {"id": form.instance.pk} | {name: form.cleaned_data[name] for name in QuestionForm.Meta.fields}
        for form in formset.forms
        if form.has_changed() and form not in formset.deleted_forms and form.cleaned_data
    ]
    return {"questions": changed, "delete_ids": [form.instance.pk for form in deleted]}


class QueryForm(forms.Form):
    """A query by text, image or both: the researcher's add-query form."""

    text = forms.CharField(max_length=500, required=False)
    # A plain file field: the service decodes it by the site's one image rule (JPEG, PNG or WebP by
    # content); Django's ImageField would let Pillow open any format first.
    image = forms.FileField(required=False, help_text="JPEG, PNG or WebP")
    empty_message = "A query needs a text, an image, or both."

    def clean(self):
        data = super().clean()
        if not data.get("text", "").strip() and not data.get("image"):
            raise ValidationError(self.empty_message)
        return data

    def query_fields(self) -> dict:
        """The valid query as the query services take it (text, image_bytes, image_name)."""
        image = self.cleaned_data.get("image")
        return {
            "text": self.cleaned_data.get("text", ""),
            "image_bytes": image.read() if image else None,
            "image_name": image.name if image else "",
        }


class OwnQueryForm(QueryForm):
    """A participant's own query (own-query mode), worded for participants."""

    text = forms.CharField(label="Describe what you have in mind", max_length=500, required=False)
    image = forms.FileField(label="…or upload a photo of it (JPEG, PNG or WebP)", required=False)
    empty_message = "Type a description, upload a photo, or both."


class QueryCsvForm(forms.Form):
    csv_file = forms.FileField(label="CSV (columns: text, image)")
    zip_file = forms.FileField(label="Images zip (optional)", required=False)


class SampleForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=500, initial=6)
    categories = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="master categories; none = all"
    )
    use_title = forms.BooleanField(required=False, initial=True, label="Use the product's title")
    use_image = forms.BooleanField(required=False, initial=True, label="Use the product's image")

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = [(c, c) for c in categories]


class InviteForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=10_000, initial=20, label="Number of invite links")
