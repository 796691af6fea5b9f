"""The handlers' complaint API: inbox, actions, figures."""

from ninja import Router

router = Router(tags=["complaints"])
