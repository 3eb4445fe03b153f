"""Session-wide test set-up: make ``--dist loadgroup`` honour ``xdist_group`` marks again.

pytest-xdist 3.8 groups tests by appending ``@<group>`` to each grouped item's node id in the
worker, by assigning ``item._nodeid``. pytest 9.2 keeps the id in a structured ``item._id``, so
that assignment does nothing and every grouped test is scheduled on its own (pytest-xdist issue
1386): both workers then synthesize the CDK app and both start their own local stack, each paying
for what the group exists to share. This does what xdist meant, on pytest's new field, and steps
aside when xdist has already done it (a fixed xdist, or an older pytest).
"""

from __future__ import annotations

import pytest


def xdist_groups(item: pytest.Item) -> list[str]:
    """The item's group names, as xdist reads them (one ``xdist_group`` mark or several)."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return sorted(names)


@pytest.hookimpl(trylast=True)  # after every conftest that adds xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under --dist loadgroup
        return
    try:
        from _pytest.nodeid import NodeId  # pytest >= 9.2
    except ImportError:  # older pytest: xdist's own _nodeid assignment works
        return

    for item in items:
        groups = xdist_groups(item)
        suffix = "@" + "_".join(groups)
        if not groups or item.nodeid.endswith(suffix) or not isinstance(getattr(item, "_id", None), NodeId):
            continue
        item._id = NodeId.parse(item.nodeid + suffix)
