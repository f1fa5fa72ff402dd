"""Runs scim2-tester, an independent SCIM 2.0 conformance checker from PyPI, against a patrol
SCIM tenant URL.

    python conformance.py BASE_URL TOKEN_FILE [NOT_APPLICABLE_FILE]

Prints one line per check (status, resource type, title, reason) and exits 1 if any check that
is not listed as not applicable ends in an error. NOT_APPLICABLE_FILE lists checks that do not
apply to patrol, one per line, as `title<TAB>reason`; a listed check that passes is reported too,
so that the list does not go stale.
"""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


# What counts as passing: the MUSTs, the SHOULDs, and the MAYs used reasonably.
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def not_applicable(path):
    listed = {}
    if path is None:
        return listed
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            title, _, reason = line.partition("\t")
            listed[title.strip()] = reason.strip()
    return listed


def main():
    base_url, token_file = sys.argv[1], sys.argv[2]
    listed = not_applicable(sys.argv[3] if len(sys.argv) > 3 else None)
    with open(token_file, encoding="utf-8") as file:
        token = file.read().strip()
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)
    failures, passed, skipped, excused, stale = 0, 0, 0, 0, []
    for result in results:
        status = result.status
        title = result.title
        where = getattr(result, "resource_type", None) or "-"
        reason = (result.reason or "").replace("\n", " ")
        mark = status.name
        if status in PASSED:
            passed += 1
            if title in listed:
                stale.append(title)
        elif status == Status.SKIPPED:
            skipped += 1
        elif title in listed:
            excused += 1
            mark = f"NOT APPLICABLE ({listed[title]})"
        else:
            # ERROR, CRITICAL, and DEVIATION (a SHOULD not followed) all count against patrol.
            failures += 1
        print(f"{mark:<10} {where:<8} {title}: {reason}")
    print(
        f"scim2-tester: {passed} passed, {failures} failed, {excused} not applicable, "
        f"{skipped} skipped"
    )
    for title in stale:
        print(f"listed as not applicable but passed (remove it from the list): {title}")
    if failures or stale or passed == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
