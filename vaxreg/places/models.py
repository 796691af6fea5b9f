from django.db import models


class Province(models.Model):
    """A province of the 2025 two-level structure (34 units, 2-digit codes)."""

    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=100)
    short_name = models.CharField(max_length=100)
    name_key = models.CharField(max_length=100, db_index=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class CommuneKind(models.TextChoices):
    """Values of ``Commune.kind``: the three kinds of 2025 unit."""

    XA = "xa", "Xã"
    PHUONG = "phuong", "Phường"
    DAC_KHU = "dac_khu", "Đặc khu"


class Commune(models.Model):
    """A commune, ward or special zone (xã, phường, đặc khu) of the 2025 structure (5-digit codes)."""

    code = models.CharField(max_length=5, primary_key=True)
    name = models.CharField(max_length=120)
    short_name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="communes")
    name_key = models.CharField(max_length=120, db_index=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}, {self.province.short_name}"


class LegacyProvince(models.Model):
    """One of the 63 provinces before 1 July 2025; its 3-digit form is the CCCD birth-province prefix."""

    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=100)
    cccd_code = models.CharField(max_length=3, unique=True)
    new_province = models.ForeignKey(
        Province, null=True, on_delete=models.PROTECT, related_name="legacy_provinces"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LegacyDistrict(models.Model):
    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=100)
    province = models.ForeignKey(LegacyProvince, on_delete=models.PROTECT, related_name="districts")

    def __str__(self) -> str:
        return self.name


class LegacyCommune(models.Model):
    """A commune of the old three-level structure, kept on old records and mapped to its 2025 commune."""

    code = models.CharField(max_length=5, primary_key=True)
    name = models.CharField(max_length=120)
    district = models.ForeignKey(LegacyDistrict, on_delete=models.PROTECT, related_name="communes")
    province = models.ForeignKey(LegacyProvince, on_delete=models.PROTECT, related_name="communes")
    new_commune = models.ForeignKey(
        Commune, null=True, on_delete=models.PROTECT, related_name="legacy_communes"
    )

    def __str__(self) -> str:
        return self.name


class Facility(models.Model):
    """A vaccination site (cơ sở tiêm chủng)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    commune = models.ForeignKey(Commune, on_delete=models.PROTECT, related_name="facilities")
    # Denormalised from the commune: every workflow is scoped (and, at scale, partitioned) by province.
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="facilities")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "facilities"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
