"""The policy checks: plain functions from recorded resources to violations.

Each check is named (the name fixtures declare they must trip) and registered in ``CHECKS``:

* ``storage``: storage private and encrypted (S3, GCS, DocumentDB, Kinesis);
* ``database``: no database reachable from the internet (DocumentDB placement and security
  groups, the Atlas IP access list, container ports published beyond loopback);
* ``iam``: no wildcard IAM actions or resources, no AWS-managed policies, no primitive GCP
  roles, no public members except the Cloud Run invoker of the API (and of the dashboard
  only when the program exports ``dashboard_access: public``);
* ``secrets``: secrets never in plain environment values (Lambda, ECS, EMR Serverless,
  Cloud Run, Dataproc, Docker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from infra.policy.checks.database import check_database
from infra.policy.checks.iam import check_iam
from infra.policy.checks.secrets import check_secrets
from infra.policy.checks.storage import check_storage
from infra.policy.checks.violation import Violation
from infra.policy.recorded import Resources

Check = Callable[[Resources], list[Violation]]

CHECKS: dict[str, Check] = {
    "storage": check_storage,
    "database": check_database,
    "iam": check_iam,
    "secrets": check_secrets,
}


def run_checks(resources: Resources, only: Iterable[str] | None = None) -> list[Violation]:
    """Every violation the named checks (default: all) find in ``resources``."""
    names = list(only) if only is not None else list(CHECKS)
    return [v for name in names for v in CHECKS[name](resources)]


__all__ = ["CHECKS", "Violation", "run_checks"]
