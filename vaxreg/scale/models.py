"""No tables of its own: Django sends ``post_migrate`` only to apps with a models module, and the scale app
prepares a Citus database after every migration (``apps.py``)."""
