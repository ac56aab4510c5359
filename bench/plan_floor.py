#!/usr/bin/env python3
"""The floor `cutover plan` is measured against: parse and read, nothing else.

Parses the plan's TOML, every CSV user file it names (`users = { file = "…" }`), and reads
every row that `cutover plan` reads from the sandbox file it names: the configurations, the
users, their assignments, the faults, the permission re-checks and the settings (`meta`). It
decides nothing, renders nothing and writes nothing. Python 3.11, standard library only
(tomllib, csv, sqlite3).

Usage: bench/plan_floor.py PLAN.toml
Prints one line: the number of users, assignments, faults and CSV rows it read.
"""

import csv
import os
import re
import sqlite3
import sys
import tomllib


def csv_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return sum(1 for _ in csv.reader(f))


def main(plan_path):
    with open(plan_path, "rb") as f:
        plan = tomllib.load(f)
    folder = os.path.dirname(plan_path)

    steps = [plan.get("pilot", {})] + plan.get("batch", [])
    rows = 0
    for step in steps:
        users = step.get("users")
        if isinstance(users, dict) and "file" in users:
            rows += csv_rows(os.path.join(folder, users["file"]))

    target = plan["target"]
    sandbox = target["sandbox"]
    if re.fullmatch(r"[a-z0-9-]+", sandbox):
        sandbox = os.path.join(".cutover", f"sandbox-{sandbox}.db")
    db = sqlite3.connect(f"file:{os.path.join(folder, sandbox)}?mode=ro", uri=True)
    db.execute("SELECT key, value FROM meta").fetchall()
    configurations = db.execute(
        "SELECT id, display_name, auth_type, state, tenant_id, exchange_version, "
        "service_address, authorized_account, error FROM configurations ORDER BY id"
    ).fetchall()
    users = db.execute(
        "SELECT id, email, location, groups FROM users"
    ).fetchall()
    assignments = db.execute(
        "SELECT user_id, configuration_id, enabled_ms FROM assignments"
    ).fetchall()
    faults = db.execute(
        "SELECT fault, email, configuration, since_ms, until_ms FROM faults"
    ).fetchall()
    db.execute("SELECT user_id, configuration_id, at_ms FROM rechecks").fetchall()
    db.close()
    print(
        f"{len(configurations)} configurations, {len(users)} users, "
        f"{len(assignments)} assignments, {len(faults)} faults, {rows} CSV rows"
    )


if __name__ == "__main__":
    main(sys.argv[1])
