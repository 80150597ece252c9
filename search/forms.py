"""Forms behind the search page's JSON endpoints."""

from __future__ import annotations

from django import forms

from search.filtering import CompiledFilter, FilterError

MAX_QUERY_CHARS = 500
MAX_FILTER_CHARS = 2000


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        max_length=MAX_QUERY_CHARS,
        error_messages={"required": "Type something to search for."},
    )
    filter = forms.CharField(label="Metadata filter", max_length=MAX_FILTER_CHARS, required=False)

    def clean_filter(self) -> CompiledFilter:
        """The filter compiled once, here; its error is shown beside the field."""
        text: str = self.cleaned_data["filter"]
        try:
            return CompiledFilter.compile(text)
        except FilterError as error:
            raise forms.ValidationError(sentence(error.detail), code="invalid_filter") from None


def sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


class HandleForm(forms.Form):
    handle = forms.UUIDField(error_messages={"invalid": "Not a search handle."})
