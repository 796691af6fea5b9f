from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    NATIONAL = "national", "Bộ Y tế / Ministry of Health"
    PROVINCE = "province", "Sở Y tế / Provincial health department"
    COMMUNE = "commune", "Trạm y tế xã / Commune health station"
    FACILITY = "facility", "Cơ sở tiêm chủng / Vaccination facility"
    POLICE = "police", "Công an xã / Commune police"
    ADMIN = "admin", "Quản trị / Administrator"


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
