from django.urls import path

from vaxreg.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.home_view, name="home"),
    path("campaigns/", views.campaigns_view, name="campaigns"),
    path("campaigns/<int:campaign_id>/", views.campaign_view_page, name="campaign"),
    path("campaigns/<int:campaign_id>/close/", views.campaign_close_view, name="campaign_close"),
    path(
        "campaigns/<int:campaign_id>/export.csv",
        views.campaign_export,
        {"fmt": "csv"},
        name="campaign_export_csv",
    ),
    path(
        "campaigns/<int:campaign_id>/export.xlsx",
        views.campaign_export,
        {"fmt": "xlsx"},
        name="campaign_export_xlsx",
    ),
    path("<str:key>/", views.unit_view, name="unit"),
    path("<str:key>/export.csv", views.unit_export, {"fmt": "csv"}, name="export_csv"),
    path("<str:key>/export.xlsx", views.unit_export, {"fmt": "xlsx"}, name="export_xlsx"),
]
