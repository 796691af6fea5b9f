from django.urls import include, path

from vaxreg.verification import urls_police, urls_station

app_name = "verification"
urlpatterns = [
    path("", include(urls_station)),
    path("police/", include(urls_police)),
]
