"""The citizens' complaint API (no account): submit and track."""

from ninja import Router

router = Router(tags=["complaints (public)"], auth=None)
