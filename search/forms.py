"""Forms behind the search page's JSON endpoints."""

from __future__ import annotations

from django import forms

from search.errors import InvalidInput
from search.services.search import compile_filter

MAX_QUERY_CHARS = 500
MAX_FILTER_CHARS = 2000


def readable_filter_error(error: InvalidInput) -> str:
    """'filter: unexpected token ...' as a sentence: the field is shown beside it already."""
    message = error.message
    while message.startswith("filter: "):
        message = message[len("filter: ") :]
    return message[:1].upper() + message[1:]


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        max_length=MAX_QUERY_CHARS,
        error_messages={"required": "Type something to search for."},
    )
    filter = forms.CharField(label="Metadata filter", max_length=MAX_FILTER_CHARS, required=False)

    def clean_filter(self) -> str:
        text: str = self.cleaned_data["filter"]
        try:
            compile_filter(text)
        except InvalidInput as error:
            raise forms.ValidationError(readable_filter_error(error), code="invalid_filter") from None
        return text


class HandleForm(forms.Form):
    handle = forms.UUIDField(error_messages={"invalid": "Not a search handle."})
