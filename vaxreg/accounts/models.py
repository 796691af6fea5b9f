from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    NATIONAL = "national", _("Ministry of Health")
    PROVINCE = "province", _("Provincial health department")
    COMMUNE = "commune", _("Commune health station")
    FACILITY = "facility", _("Vaccination facility")
    POLICE = "police", _("Commune police")
    ADMIN = "admin", _("Administrator")


class User(AbstractUser):
    """A staff account; its role and unit decide everything it may read or change."""

    role = models.CharField(max_length=16, choices=Role.choices)
    province = models.ForeignKey(
        "places.Province", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    commune = models.ForeignKey(
        "places.Commune", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    facility = models.ForeignKey(
        "places.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="user_role_has_its_unit",
                condition=(
                    Q(role__in=["national", "admin"])
                    | Q(role="province", province__isnull=False)
                    | Q(role__in=["commune", "police"], commune__isnull=False, province__isnull=False)
                    | Q(role="facility", facility__isnull=False, province__isnull=False)
                ),
            )
        ]
