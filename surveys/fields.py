"""Form fields shared by the task forms (surveys/forms.py and the graded question, surveys/graded.py)."""

from django import forms


def int_radio_field(
    *, label: str, choices: list, required: bool, required_message: str, invalid_message: str
):
    """A row of radio buttons whose value is stored as an int (a 1–5 scale, a 0–3 grade); no answer is None."""
    return forms.TypedChoiceField(
        label=label,
        choices=choices,
        coerce=int,
        widget=forms.RadioSelect,
        required=required,
        empty_value=None,
        error_messages={"required": required_message, "invalid_choice": invalid_message},
    )
