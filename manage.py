#!/usr/bin/env python
"""Django's command-line utility for fashionsite.

Settings start nothing; this entry starts (or reuses) the embedded PostgreSQL and Redis when
DATABASE_URL / REDIS_URL are unset, so a newcomer's `createsuperuser` or `shell` just works. The
last process using them stops them when it exits. `up` manages the servers itself (it restarts
them when they die), and help/version need none.
"""

import os
import sys

NO_SERVERS = {"up", "help", "version", "--help", "-h", "--version"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command not in NO_SERVERS:
        from fashionsite import embedded

        embedded.start_for_process(
            embedded.data_dir_from_env(), os.environ.get("FASHIONSITE_DB_NAME") or "fashionsite"
        )
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
