"""The sign-off page; included by ``web.urls`` under the ``web`` namespace, where its name has always been."""

from django.urls import path

from vaxreg.vaccinations import views

urlpatterns = [
    path("sign-off/", views.sign_off, name="sign_off"),
]
