from django.urls import include, path

from vaxreg.certificates import urls_issue, urls_verify

app_name = "certificates"
urlpatterns = [
    path("", include(urls_issue)),
    path("verify/", include(urls_verify)),
]
