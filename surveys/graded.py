"""Graded per-product judgements in a rating task (0–3 by default: not / somewhat / relevant /
perfect; the labels are the question's and editable). One radio group per shown product, answered in
the same task as the other questions; stored in Rating.relevance as {catalog id: grade}, the same
field the binary marks use (true/false = 1/0), so qrels and the report read both scales alike."""

from __future__ import annotations

from django import forms

from surveys.fields import int_radio_field

DEFAULT_GRADE_LABELS = ("Not relevant", "Somewhat relevant", "Relevant", "Perfect match")


def grade_labels(question) -> tuple[str, ...]:
    labels = tuple(label for label in (getattr(question, "grade_labels", None) or []) if str(label).strip())
    return labels if len(labels) >= 2 else DEFAULT_GRADE_LABELS


def field_name(question, product) -> str:
    return f"q{question.pk}-{product.catalog_id}"


def graded_fields(question, products) -> dict[str, forms.Field]:
    """One 0..n radio field per shown product, labelled with the product and the question."""
    labels = grade_labels(question)
    choices = [(str(grade), f"{grade} – {label}") for grade, label in enumerate(labels)]
    fields = {}
    for product in products:
        fields[field_name(question, product)] = int_radio_field(
            label=f"{product.title or product.catalog_id}: {question.wording}",
            choices=choices,
            required=question.required,
            required_message=f"Please grade every product from 0 to {len(labels) - 1}.",
            invalid_message=f"Please choose a grade from 0 to {len(labels) - 1}.",
        )
    return fields


def graded_answer(question, cleaned_data: dict, products) -> dict[str, int]:
    """{catalog id: grade} of the products the participant graded."""
    answer = {}
    for product in products:
        grade = cleaned_data.get(field_name(question, product))
        if grade is not None:
            answer[product.catalog_id] = int(grade)
    return answer
