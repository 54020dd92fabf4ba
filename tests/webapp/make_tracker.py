"""Makes a Roundup tracker for Kage's tests (tests/webapp, kage-webapp-support), in one process.

Usage: make_tracker.py TRACKER_HOME ADMIN_PASSWORD NAME:PASSWORD...

Runs Roundup's own admin commands, as `roundup-admin -i TRACKER_HOME <command>` would run each (install the
stock "classic" template on SQLite, initialise, create each user with the role User, commit), but in one Python
process: four roundup-admin processes took 4-6 s on this small shared machine, nearly all of it Python starting.
Prints `user NAME ID` for each user created; exits non-zero, saying why on stderr, if any command fails.
"""

import sys

from roundup.admin import AdminTool


def run(tool, *command):
    status = tool.run_command(list(command))
    if status:
        sys.exit("roundup-admin %s failed (%s)" % (command[0], status))


def main():
    home, admin_password, users = sys.argv[1], sys.argv[2], sys.argv[3:]
    tool = AdminTool()
    # What AdminTool.main sets from its command line before it runs a command: act as the tracker's admin.
    tool.tracker_home, tool.name, tool.password = home, "admin", ""
    tool.separator, tool.print_designator, tool.verbose = None, 0, 0
    # The template's mail settings are required; nothing here sends mail. `web` is set by serve.py.
    run(tool, "install", "classic", "sqlite", "mail_domain=localhost,mail_host=localhost,tracker_web=http://127.0.0.1/")
    run(tool, "initialise", admin_password)
    for user in users:
        name, password = user.split(":", 1)
        run(tool, "create", "user", "username=" + name, "password=" + password, "address=%s@localhost" % name,
            "roles=User")
    run(tool, "commit")
    for user in users:
        name = user.split(":", 1)[0]
        print("user %s %s" % (name, tool.db.user.lookup(name)), flush=True)
    tool.db.close()


if __name__ == "__main__":
    main()
