from django.urls import URLPattern, URLResolver, path

from vaxreg.certificates import verify_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", verify_views.verify_page, name="verify"),
]
