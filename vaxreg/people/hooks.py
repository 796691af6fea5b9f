"""What the person page shows from the rooms above people.

People sit below corrections (and every room that works on a person's record), so the person page cannot
call them; a higher room registers a section here in its ``AppConfig.ready``, and the page renders the
sections in the order of INSTALLED_APPS, after the person's identity.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string

from vaxreg.people.models import Person

# (request, the person the user may read) -> the section's template context, or None to show nothing
SectionContext = Callable[[HttpRequest, Person], dict[str, Any] | None]

_sections: list[tuple[str, str, SectionContext]] = []


def person_section_register(name: str, *, template: str, context: SectionContext) -> None:
    """Register once per name (a second ``ready`` call changes nothing)."""
    if all(existing != name for existing, _template, _context in _sections):
        _sections.append((name, template, context))


def person_sections_render(request: HttpRequest, person: Person) -> list[str]:
    rendered: list[str] = []
    for _name, template, context in _sections:
        values = context(request, person)
        if values is not None:
            rendered.append(render_to_string(template, {"person": person, **values}, request=request))
    return rendered
