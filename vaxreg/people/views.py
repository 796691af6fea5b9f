"""The person pages: search, a person's record with doses and history, and the audited full ID number.

Each one reads through the scoped selectors and never looks past the user's unit; what the rooms above
people add to the person page (changes awaiting a second step) comes through ``people.hooks``.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from vaxreg.accounts.permissions import Capability, requires
from vaxreg.people.forms import SearchForm
from vaxreg.people.hooks import person_sections_render
from vaxreg.people.selectors import (
    person_doses,
    person_full_id_number,
    person_get_for_user,
    person_history,
    person_history_rows,
    person_search,
)


@require_GET
@requires(Capability.PERSON_READ)
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        results = person_search(user=request.user, q=form.cleaned_data["q"])
    return render(request, "people/search.html", {"form": form, "results": results})


def _person_page(request: HttpRequest, person_id: int, *, full_id_number: str | None = None) -> HttpResponse:
    person = person_get_for_user(user=request.user, person_id=person_id)
    context = {
        "person": person,
        "doses": person_doses(person),
        "history": person_history_rows(person_history(person)),
        "full_id_number": full_id_number,
        "sections": person_sections_render(request, person),
    }
    return render(request, "people/person.html", context)


@require_GET
@requires(Capability.PERSON_READ)
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    return _person_page(request, person_id)


@require_POST
@requires(Capability.PERSON_FULL_ID_READ)
def person_full_id(request: HttpRequest, person_id: int) -> HttpResponse:
    # POST, not GET: the read is logged, so a prefetching browser or a shared link must not trigger it.
    _person, number = person_full_id_number(user=request.user, person_id=person_id)
    response = _person_page(request, person_id, full_id_number=number)
    response["Cache-Control"] = "no-store"
    return response
