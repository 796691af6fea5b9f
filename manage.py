#!/usr/bin/env python
import sys

from config.env import settings_module_default

if __name__ == "__main__":
    settings_module_default()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
