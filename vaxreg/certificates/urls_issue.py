from django.urls import URLPattern, URLResolver, path

from vaxreg.certificates import issue_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("mine/", issue_views.mine_view, name="mine"),
    path("revocations.json", issue_views.revocations_view, name="revocations_json"),
    path("trust-list.json", issue_views.trust_list_view, name="trust_list_json"),
    path("c/<str:reference>/qr.png", issue_views.qr_view, name="qr"),
    path("c/<str:reference>/certificate.pdf", issue_views.pdf_view, name="pdf"),
]
