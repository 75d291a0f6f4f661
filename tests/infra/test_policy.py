"""The policy checks: each rejects its non-compliant fixtures, and reads documents exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.policy.checks import CHECKS, run_checks
from infra.policy.checks.aws_policy import problems
from infra.policy.checks.secrets import problem
from infra.policy.fixtures import aws as aws_fixtures
from infra.policy.fixtures import gcp as gcp_fixtures
from infra.policy.recorded import Resource, Resources, secret

FIXTURE_NAMES = sorted({*aws_fixtures.FIXTURES, *gcp_fixtures.FIXTURES})


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_each_fixture_is_rejected_by_the_checks_it_names(
    name: str, fixture_reports: dict[str, Any]
) -> None:
    report = fixture_reports[name]
    assert report["resources"], "the fixture registered nothing"
    found = {v["check"] for v in report["violations"]}
    missing = set(report["expect"]) - found
    assert not missing, f"{name}: {sorted(missing)} let it through; found {report['violations']}"


def test_every_check_has_a_fixture_it_must_reject() -> None:
    expected = {
        check
        for f in [*aws_fixtures.FIXTURES.values(), *gcp_fixtures.FIXTURES.values()]
        for check in f.expect
    }
    assert expected == set(CHECKS)


def _statement(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", "arn:aws:s3:::bucket/archive/*"),
        (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            "arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/fn:*",
        ),
        (["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], "*"),
        ("ec2:DeleteNetworkInterface", "arn:aws:ec2:eu-west-1:1:network-interface/*"),
        ("kinesis:GetRecords", "arn:aws:kinesis:eu-west-1:1:stream/events"),
        ("ecr:GetAuthorizationToken", "*"),
    ],
)
def test_scoped_statements_pass(action: Any, resource: str) -> None:
    assert list(problems(_statement(action, resource), "identity")) == []


@pytest.mark.parametrize(
    ("action", "resource", "why"),
    [
        ("s3:*", "arn:aws:s3:::bucket/*", "wildcard action"),
        ("s3:Get*", "arn:aws:s3:::bucket/*", "wildcard action"),
        ("s3:GetObject", "*", "every resource"),
        ("s3:GetObject", "arn:aws:s3:::*", "names no resource"),
        ("kinesis:GetRecords", "arn:aws:kinesis:*:1:stream/events", "wildcard in its partition"),
        ("kinesis:GetRecords", "arn:aws:kinesis:eu-west-1:1:stream/*", "names no resource"),
        ("logs:PutLogEvents", "arn:aws:logs:eu-west-1:1:log-group:*", "names no resource"),
        ("ec2:RunInstances", "arn:aws:ec2:eu-west-1:1:network-interface/*", "names no resource"),
        (["ec2:DescribeSubnets", "s3:GetObject"], "*", "every resource"),
    ],
)
def test_wildcard_statements_fail(action: Any, resource: str, why: str) -> None:
    found = list(problems(_statement(action, resource), "identity"))
    assert any(why in p for p in found), found


def test_negations_public_principals_and_key_policies() -> None:
    not_action = {
        "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}]
    }
    assert any("NotAction" in p for p in problems(not_action, "identity"))
    public = _statement("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": "*"})
    assert any("any principal" in p for p in problems(public, "resource"))
    key_policy = _statement(
        ["kms:Decrypt", "kms:DescribeKey"], "*", Principal={"AWS": "arn:aws:iam::1:root"}
    )
    assert list(problems(key_policy, "key")) == []
    deny_all = {
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]
    }
    assert list(problems(deny_all, "resource")) == []


@pytest.mark.parametrize(
    ("name", "value", "flagged"),
    [
        ("STREAMKIT_HOT_STORE_URL", "mongodb://u:pw@host:27017/db", True),
        ("STREAMKIT_HOT_STORE_URL", "mongodb://mongo:27017/streamkit", False),
        (
            "STREAMKIT_HOT_STORE_URL",
            "aws-secretsmanager://arn:aws:secretsmanager:r:1:secret:x",
            False,
        ),
        ("STREAMKIT_API__KEYS", "gcp-secretmanager://projects/p/secrets/k/versions/latest", False),
        ("STREAMKIT_API__KEYS", "literal-key", True),
        ("STREAMKIT_DASHBOARD__API_KEY", "literal-key", True),
        ("DB_PASSWORD", "x", True),
        ("SOME_TOKEN", "x", True),
        ("SETTING", "AKIAABCDEFGHIJKLMNOP", True),
        ("STREAMKIT_API__KEYS", "", False),
        ("STREAMKIT_BUS_URL", "kinesis://events?region=eu-west-1", False),
        ("PYSPARK_PYTHON", "./environment/bin/python", False),
    ],
)
def test_environment_values(name: str, value: str, flagged: bool) -> None:
    assert (problem(name, value) is not None) is flagged


def test_a_secret_anywhere_in_an_environment_is_flagged() -> None:
    function = Resource(
        "aws:lambda/function:Function",
        "fn",
        {"environment": secret({"variables": {"STREAMKIT_BUS_URL": "kinesis://s?region=r"}})},
    )
    assert [v.check for v in run_checks(Resources([function]))] == ["secrets"]


def _request(properties: dict[str, Any]) -> str:
    return json.dumps({"region": "r", "name": "n", "runtimeConfig": {"properties": properties}})


def test_the_exported_batch_request_is_checked_like_an_environment() -> None:
    clean = _request(
        {
            "spark.dataproc.driverEnv.STREAMKIT_HOT_STORE_URL": "gcp-secretmanager://projects/p/secrets/s",
            "spark.executorEnv.PYSPARK_PYTHON": "./environment/bin/python",
        }
    )
    assert run_checks(Resources([], {"job_batch_request": clean})) == []
    leaky = _request({"spark.executorEnv.STREAMKIT_HOT_STORE_URL": "mongodb://u:pw@h/db"})
    found = run_checks(Resources([], {"job_batch_request": leaky}))
    assert [(v.check, v.name) for v in found] == [("secrets", "output job_batch_request")]
    assert "password" in found[0].message
    # Other outputs are not requests: a URL there is the stack's own business (and checked
    # where the resource that serves it is).
    assert run_checks(Resources([], {"api_url": "https://u:pw@h"})) == []


def _cloud_run(name: str, env: str) -> list[Resource]:
    """A Cloud Run service given ``env`` (from Secret Manager), and ``allUsers`` may invoke it."""
    key = {"secretKeyRef": {"secret": "projects/p/secrets/k", "version": "latest"}}
    service = Resource(
        "gcp:cloudrunv2/service:Service",
        f"{name}-service",
        {
            "name": name,
            "location": "europe-west1",
            "template": {"containers": [{"envs": [{"name": env, "valueSource": key}]}]},
        },
    )
    grant = Resource(
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
        f"{name}-public",
        {
            "name": name,
            "location": "europe-west1",
            "role": "roles/run.invoker",
            "member": "allUsers",
        },
    )
    return [service, grant]


API = _cloud_run("api", "STREAMKIT_API__KEYS")
DASHBOARD = _cloud_run("dashboard", "STREAMKIT_DASHBOARD__API_KEY")


@pytest.mark.parametrize(
    ("resources", "outputs", "refused"),
    [
        (API, {}, []),  # its keys guard it
        (DASHBOARD, {}, ["dashboard-public"]),  # private by default
        (DASHBOARD, {"dashboard_access": "iap"}, ["dashboard-public"]),
        (DASHBOARD, {"dashboard_access": "public"}, []),  # the explicit opt-in
        (DASHBOARD, {"dashboard_access": secret("public")}, []),
        ([*API, *DASHBOARD], {}, ["dashboard-public"]),
        (_cloud_run("reports", "STREAMKIT_ENV"), {}, ["reports-public"]),  # checks no key
        (API[1:], {}, ["api-public"]),  # a service the program does not define
    ],
)
def test_only_the_api_may_be_public_and_the_dashboard_when_the_stack_says_so(
    resources: list[Resource], outputs: dict[str, Any], refused: list[str]
) -> None:
    found = run_checks(Resources(resources, outputs), only=["iam"])
    assert [v.name for v in found] == refused, found
    assert all("(public)" in v.message for v in found)


def test_a_public_dashboard_is_refused_with_the_way_out() -> None:
    (found,) = run_checks(Resources(DASHBOARD), only=["iam"])
    assert "holds an API key" in found.message and "IAP" in found.message
    assert "dashboard.access: public" in found.message


def test_an_api_with_empty_keys_is_not_public() -> None:
    service, grant = API
    open_api = Resource(
        service.type,
        service.name,
        {
            **service.inputs,
            "template": {"containers": [{"envs": [{"name": "STREAMKIT_API__KEYS", "value": ""}]}]},
        },
    )
    assert [v.name for v in run_checks(Resources([open_api, grant]), only=["iam"])] == [
        "api-public"
    ]


def test_s3_bucket_needs_every_piece() -> None:
    bucket = Resource("aws:s3/bucket:Bucket", "b", {}, id="b")
    found = {v.message for v in run_checks(Resources([bucket]), only=["storage"])}
    assert len(found) == 3  # no public access block, ACLs enabled, no encryption


def test_the_summary_names_each_violation() -> None:
    from infra.policy.harness import _summary

    report = {
        "project": "p",
        "stack": "s",
        "resources": [{"type": "aws:s3/bucket:Bucket"}],
        "outputs": {"bus_url": "kinesis://x?region=r"},
        "violations": [
            {"check": "storage", "type": "aws:s3/bucket:Bucket", "name": "b", "message": "m"}
        ],
    }
    text = _summary(report)
    assert "p (s): 1 resources" in text and "bus_url = kinesis://x?region=r" in text
    assert "policy: 1 violations" in text and "[storage] aws:s3/bucket:Bucket b: m" in text
