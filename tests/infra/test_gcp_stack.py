"""The GCP program builds (dev and prod) with the resources and properties the design names."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import dataproc_v1
from google.protobuf import json_format

from adapters.bus.pubsub_wire import dead_letter_policy, parse_pubsub_url
from app.cloudjob.dataproc import JOB_LABEL, parse_request
from infra.common.settings_outputs import SETTING_OUTPUTS
from infra.policy.recorded import Resource
from tests.infra.conftest import GCP_DASHBOARD_MEMBERS, StackRun

COMPONENTS = {
    "ProjectApis",
    "Network",
    "Bus",
    "Archive",
    "AuditLogs",
    "Identities",
    "HotStore",
    "Secret",
    "StreamJob",
    "Images",
    "Api",
    "Dashboard",
    "Monitoring",
}


@pytest.fixture(params=["gcp_dev", "gcp_prod"])
def stack(request: pytest.FixtureRequest) -> StackRun:
    return request.getfixturevalue(request.param)


def test_builds_every_component_and_passes_every_policy(stack: StackRun) -> None:
    assert stack.components("gcp") == COMPONENTS
    assert stack.violations == []


def test_outputs_are_named_like_the_settings(stack: StackRun) -> None:
    outputs = stack.outputs
    assert set(SETTING_OUTPUTS) <= set(outputs)
    topic = stack.one("gcp:pubsub/topic:Topic", "events").get("name")
    subscription = stack.one("gcp:pubsub/subscription:Subscription", "-job").get("name")
    assert outputs["bus_url"].startswith(
        f"pubsub://streamkit-test/{topic}?subscription={subscription}&"
    )
    assert (
        outputs["deadletter_url"].startswith("pubsub://streamkit-test/")
        and "deadletter" in outputs["deadletter_url"]
    )
    bucket = stack.one("gcp:storage/bucket:Bucket").id
    assert outputs["archive_url"] == f"gs://{bucket}/archive"
    assert outputs["checkpoint_dir"] == f"gs://{bucket}/checkpoints"
    for name in ("hot_store_url", "api__keys", "dashboard__api_key"):
        assert outputs[name].startswith("gcp-secretmanager://projects/streamkit-test/secrets/")
        assert outputs[name].endswith("/versions/latest")


def test_bus_url_is_one_the_pubsub_binding_reads_as_the_stack_built_it(gcp_dev: StackRun) -> None:
    target = parse_pubsub_url(gcp_dev.outputs["bus_url"])
    events = gcp_dev.one("gcp:pubsub/topic:Topic", "events")
    subscription = gcp_dev.one("gcp:pubsub/subscription:Subscription", "-job")
    assert (target.project, target.topic) == ("streamkit-test", events.get("name"))
    assert target.subscription == subscription.get("name")
    assert target.options["journal"] == gcp_dev.outputs["checkpoint_dir"].replace(
        "/checkpoints", "/journal"
    )
    policy = dead_letter_policy(target)
    assert policy is not None
    assert policy["dead_letter_topic"].endswith(
        "/topics/" + gcp_dev.one("gcp:pubsub/topic:Topic", "deadletter").get("name")
    )
    assert policy["max_delivery_attempts"] == subscription.get(
        "deadLetterPolicy", "maxDeliveryAttempts"
    )
    assert events.get("labels") == {"streamkit-partitions": "3"}


def test_job_subscription_orders_and_dead_letters_late(gcp_dev: StackRun) -> None:
    subscription = gcp_dev.one("gcp:pubsub/subscription:Subscription", "-job")
    assert subscription.get("enableMessageOrdering") is False  # as the binding makes it
    assert subscription.get("deadLetterPolicy", "maxDeliveryAttempts") == 100
    assert subscription.get("expirationPolicy", "ttl") == ""
    deadletter = gcp_dev.one("gcp:pubsub/topic:Topic", "deadletter")
    assert subscription.get("deadLetterPolicy", "deadLetterTopic") == deadletter.id
    agent = "serviceAccount:service-987654321098@gcp-sa-pubsub.iam.gserviceaccount.com"
    grants = {
        (r.get("role"), r.get("member"))
        for r in gcp_dev.resources
        if r.type.startswith("gcp:pubsub/") and "IAMMember" in r.type
    }
    assert {("roles/pubsub.publisher", agent), ("roles/pubsub.subscriber", agent)} <= grants
    assert subscription.get("ackDeadlineSeconds") == 10


def test_archive_bucket_is_private_cmek_encrypted_and_ages(gcp_dev: StackRun) -> None:
    bucket = gcp_dev.one("gcp:storage/bucket:Bucket")
    key = gcp_dev.one("gcp:kms/cryptoKey:CryptoKey")
    assert bucket.get("uniformBucketLevelAccess") is True
    assert bucket.get("publicAccessPrevention") == "enforced"
    assert bucket.get("encryption", "defaultKmsKeyName") == key.id
    assert key.get("rotationPeriod") == f"{90 * 86400}s"
    agent = gcp_dev.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert agent.get("member").endswith("@gs-project-accounts.iam.gserviceaccount.com")
    moves = [
        (r["condition"]["age"], r["action"]["storageClass"])
        for r in bucket.get("lifecycleRules")
        if r["action"]["type"] == "SetStorageClass"
    ]
    assert moves == [(30, "NEARLINE"), (180, "COLDLINE")]
    audited = {
        r.get("service") for r in gcp_dev.of_type("gcp:projects/iAMAuditConfig:IAMAuditConfig")
    }
    assert audited == {"storage.googleapis.com", "cloudkms.googleapis.com"}


def test_atlas_admits_only_the_nat_address_and_a_scoped_user(stack: StackRun) -> None:
    (entry,) = stack.of_type("mongodbatlas:index/projectIpAccessList:ProjectIpAccessList")
    assert entry.get("cidrBlock") == f"{stack.outputs['egress_ip']}/32"
    nat = stack.one("gcp:compute/routerNat:RouterNat")
    assert nat.get("natIpAllocateOption") == "MANUAL_ONLY"
    user = stack.one("mongodbatlas:index/databaseUser:DatabaseUser")
    assert user.get("roles") == [{"roleName": "readWrite", "databaseName": "streamkit"}]
    cluster = stack.one("mongodbatlas:index/advancedCluster:AdvancedCluster")
    region = cluster.get("replicationSpecs", 0, "regionConfigs", 0)
    assert region["providerName"] == "GCP"
    assert region["electableSpecs"]["instanceSize"] == ("M10" if "-dev-" in cluster.name else "M30")


def test_hot_store_url_secret_holds_an_srv_url(gcp_dev: StackRun) -> None:
    version = next(
        v
        for v in gcp_dev.of_type("gcp:secretmanager/secretVersion:SecretVersion")
        if "hot-url" in v.name
    )
    assert "4dabf18193072939515e22adb298388d" in version.inputs["secretData"], "not a Pulumi secret"
    url = version.get("secretData")
    assert url.startswith("mongodb+srv://streamkit:") and ".mongodb.net/streamkit?" in url


def _accessors(stack: StackRun, secret_name: str) -> set[str]:
    secret = stack.one("gcp:secretmanager/secret:Secret", secret_name)
    return {
        r.get("member").split(":")[1].split("@")[0]
        for r in stack.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
        if r.get("secretId") == secret.id
    }


def test_each_account_reads_exactly_its_secrets(gcp_dev: StackRun) -> None:
    assert _accessors(gcp_dev, "hot-url") == {"streamkit-dev-job", "streamkit-dev-api"}
    assert _accessors(gcp_dev, "api-keys") == {
        "streamkit-dev-api",
        "streamkit-dev-dashboard",
        "streamkit-dev-probe",
    }
    project_roles = {r.get("role") for r in gcp_dev.of_type("gcp:projects/iAMMember:IAMMember")}
    (custom,) = gcp_dev.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert custom.get("permissions") == ["pubsub.subscriptions.create"]
    assert project_roles == {
        "roles/dataproc.worker",
        f"projects/streamkit-test/roles/{custom.get('roleId')}",
    }
    public = [r for r in gcp_dev.resources if r.get("member") == "allUsers"]
    assert {(r.type, r.get("role")) for r in public} == {
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "roles/run.invoker")
    }
    # The API, deliberately (its keys guard it); the dashboard is behind IAP.
    assert [r.get("name") for r in public] == ["streamkit-dev-api"]


def _batch_request(stack: StackRun) -> dict[str, Any]:
    request = json.loads(stack.outputs["job_batch_request"])
    assert isinstance(request, dict)
    return request


def test_the_stack_exports_the_batch_request_and_creates_no_batch(gcp_dev: StackRun) -> None:
    # A batch the stack owned would stay FAILED after a crash: `streamkit job` creates it.
    assert gcp_dev.of_type("gcp:dataproc/batch:Batch") == []
    request = _batch_request(gcp_dev)
    assert request["region"] == "europe-west1"
    assert request["name"] == "streamkit-dev-job-pipeline"
    assert request["labels"] == {"app": "streamkit", "job": "streamkit-dev-job-pipeline"}
    assert request["runtimeConfig"]["version"] == "3.0"
    assert "containerImage" not in request["runtimeConfig"]
    execution = request["environmentConfig"]["executionConfig"]
    assert execution["serviceAccount"] == gcp_dev.outputs["job_service_account"]
    assert execution["authenticationConfig"] == {
        "userWorkloadAuthenticationType": "SERVICE_ACCOUNT"
    }
    assert execution["subnetworkUri"] == gcp_dev.one("gcp:compute/subnetwork:Subnetwork").id
    assert "ttl" not in execution  # a streaming job runs until stopped
    spark = request["runtimeConfig"]["properties"]
    assert spark["spark.archives"].endswith("/job/streamkit-job-env.tar.gz#environment")
    assert spark["spark.dataproc.driverEnv.PYSPARK_PYTHON"] == "./environment/bin/python"
    assert spark["spark.executorEnv.PYSPARK_PYTHON"] == "./environment/bin/python"
    assert (
        spark["spark.dynamicAllocation.minExecutors"],
        spark["spark.dynamicAllocation.maxExecutors"],
    ) == ("2", "2")
    for prefix in ("spark.dataproc.driverEnv.", "spark.executorEnv."):
        assert spark[prefix + "STREAMKIT_HOT_STORE_URL"] == gcp_dev.outputs["hot_store_url"]
        assert spark[prefix + "STREAMKIT_BUS_URL"] == gcp_dev.outputs["bus_url"]
    pyspark = request["pysparkBatch"]
    assert pyspark["mainPythonFileUri"] == gcp_dev.outputs["archive_url"].replace(
        "/archive", "/job/entry.py"
    )
    assert pyspark["pythonFileUris"][0].endswith("/job/streamkit-0.1.0-py3-none-any.whl")
    uploaded = {o.get("name") for o in gcp_dev.of_type("gcp:storage/bucketObject:BucketObject")}
    bucket = gcp_dev.one("gcp:storage/bucket:Bucket").id
    for uri in (pyspark["mainPythonFileUri"], *pyspark["pythonFileUris"]):
        assert uri.removeprefix(f"gs://{bucket}/") in uploaded


def test_the_batch_request_is_a_dataproc_batch_the_cli_accepts(stack: StackRun) -> None:
    request = _batch_request(stack)
    batch = dataproc_v1.Batch.wrap(
        json_format.ParseDict(
            {k: v for k, v in request.items() if k not in ("region", "name")},
            dataproc_v1.Batch.pb()(),
        )
    )
    assert batch.pyspark_batch.main_python_file_uri == request["pysparkBatch"]["mainPythonFileUri"]
    execution = batch.environment_config.execution_config
    assert execution.service_account == stack.outputs["job_service_account"]
    assert execution.authentication_config.user_workload_authentication_type.name == (
        "SERVICE_ACCOUNT"
    )
    assert dict(batch.runtime_config.properties) == request["runtimeConfig"]["properties"]
    region, name, parsed = parse_request(request)
    assert (region, name) == (request["region"], request["name"])
    # The stack labels the batch as `streamkit job` finds it.
    assert request["labels"][JOB_LABEL] == parsed.labels[JOB_LABEL] == name


def test_prod_autoscaling_limits(gcp_prod: StackRun) -> None:
    spark = _batch_request(gcp_prod)["runtimeConfig"]["properties"]
    assert spark["spark.dynamicAllocation.maxExecutors"] == "6"
    assert spark["spark.dataproc.scaling.version"] == "2"


def _envs(service: Resource) -> dict[str, dict[str, object]]:
    (container,) = service.get("template", "containers")
    return {e["name"]: e for e in container["envs"]}


def test_api_on_cloud_run_egresses_through_the_vpc_with_injected_secrets(gcp_dev: StackRun) -> None:
    service = gcp_dev.one("gcp:cloudrunv2/service:Service", "api")
    assert service.get("template", "vpcAccess", "egress") == "ALL_TRAFFIC"
    envs = _envs(service)
    for name in ("STREAMKIT_HOT_STORE_URL", "STREAMKIT_API__KEYS"):
        assert (
            "value" not in envs[name]
            and envs[name]["valueSource"]["secretKeyRef"]["version"] == "latest"
        )
    assert envs["STREAMKIT_API__CHECK_BUS"]["value"] == "false"
    # The client address is the front end's entry of X-Forwarded-For, not the leftmost one
    # (which the client writes, and which uvicorn would take with FORWARDED_ALLOW_IPS='*').
    assert envs["STREAMKIT_API__PROXY_HOPS"]["value"] == "1"
    assert "FORWARDED_ALLOW_IPS" not in envs
    image = next(
        i for i in gcp_dev.of_type("docker:index/image:Image") if i.get("build", "target") == "api"
    )
    assert image.get("registry", "server") == "europe-west1-docker.pkg.dev"


def test_dashboard_on_cloud_run_keeps_websocket_sessions(
    gcp_dev: StackRun, gcp_prod: StackRun
) -> None:
    service = gcp_dev.one("gcp:cloudrunv2/service:Service", "dashboard")
    assert service.get("template", "sessionAffinity") is True
    assert service.get("template", "timeout") == "3600s"
    envs = _envs(service)
    assert envs["STREAMKIT_DASHBOARD__API_URL"]["value"] == gcp_dev.outputs["api_url"]
    assert "valueSource" in envs["STREAMKIT_DASHBOARD__API_KEY"]
    assert gcp_prod.of_type("docker:index/image:Image") == []
    (container,) = gcp_prod.one("gcp:cloudrunv2/service:Service", "dashboard").get(
        "template", "containers"
    )
    assert container["image"].endswith("/dashboard:1.0")


def test_alert_policies_match_the_alert_rules(gcp_dev: StackRun) -> None:
    lag = gcp_dev.one("gcp:monitoring/alertPolicy:AlertPolicy", "bus-lag")
    (condition,) = lag.get("conditions")
    threshold = condition["conditionThreshold"]
    assert "subscription/oldest_unacked_message_age" in threshold["filter"]
    assert gcp_dev.outputs["subscription"] in threshold["filter"]
    assert threshold["thresholdValue"] == 60 and threshold["comparison"] == "COMPARISON_GT"
    latency = gcp_dev.one("gcp:monitoring/alertPolicy:AlertPolicy", "latency-p95")
    over, absent = latency.get("conditions")
    metric = gcp_dev.one("gcp:logging/metric:Metric")
    assert metric.get("valueExtractor") == "EXTRACT(jsonPayload.latency_p95_ms)"
    assert (
        f"logging.googleapis.com/user/{metric.get('name')}" in over["conditionThreshold"]["filter"]
    )
    assert over["conditionThreshold"]["thresholdValue"] == 2000
    assert "conditionAbsent" in absent
    channel = gcp_dev.one("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.get("labels") == {"email_address": "oncall@example.com"}
    assert latency.get("notificationChannels") == lag.get("notificationChannels") == [channel.id]


def test_kpi_probe_job_runs_every_minute(gcp_dev: StackRun) -> None:
    job = gcp_dev.one("gcp:cloudrunv2/job:Job")
    (container,) = job.get("template", "template", "containers")
    assert (
        container["commands"][:2] == ["python", "-c"] and "def main()" in container["commands"][2]
    )
    envs = {e["name"]: e for e in container["envs"]}
    assert (
        "valueSource" in envs["PROBE_API_KEY"]
        and envs["PROBE_API_URL"]["value"] == gcp_dev.outputs["api_url"]
    )
    schedule = gcp_dev.one("gcp:cloudscheduler/job:Job")
    assert schedule.get("schedule") == "* * * * *"
    assert schedule.get("httpTarget", "uri").endswith(f"/jobs/{job.get('name')}:run")
    invoker = gcp_dev.one("gcp:cloudrunv2/jobIamMember:JobIamMember")
    assert invoker.get("role") == "roles/run.invoker" and "scheduler" in invoker.get("member")


def test_budget_on_the_billing_account(gcp_dev: StackRun, gcp_prod: StackRun) -> None:
    budget = gcp_prod.one("gcp:billing/budget:Budget")
    assert budget.get("billingAccount") == "000000-AAAAAA-000000"
    assert budget.get("amount", "specifiedAmount") == {"currencyCode": "USD", "units": "2000"}
    assert budget.get("budgetFilter", "projects") == ["projects/987654321098"]
    rules = {
        (r["thresholdPercent"], r.get("spendBasis", "CURRENT_SPEND"))
        for r in budget.get("thresholdRules")
    }
    assert (1.0, "FORECASTED_SPEND") in rules and (0.9, "CURRENT_SPEND") in rules
    assert (
        gcp_dev.one("gcp:billing/budget:Budget").get("amount", "specifiedAmount", "units") == "400"
    )


def test_required_apis_are_enabled_and_kept(gcp_dev: StackRun) -> None:
    services = {r.get("service"): r for r in gcp_dev.of_type("gcp:projects/service:Service")}
    assert {
        "dataproc.googleapis.com",
        "dataprocrm.googleapis.com",
        "iap.googleapis.com",
        "run.googleapis.com",
        "secretmanager.googleapis.com",
    } <= set(services)
    assert all(s.get("disableOnDestroy") is False for s in services.values())


RUN_SERVICE = "gcp:cloudrunv2/service:Service"
RUN_GRANT = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
IAP_GRANT = "gcp:iap/webCloudRunServiceIamMember:WebCloudRunServiceIamMember"
IAP_AGENT = "serviceAccount:service-987654321098@gcp-sa-iap.iam.gserviceaccount.com"
GRANT_YOURSELF = "pulumi config set --path 'dashboard.members[0]' user:you@example.com"


def _invokers(stack: StackRun, service: Resource) -> set[tuple[str, str]]:
    """(role, member) of every grant on the Cloud Run ``service``."""
    return {
        (r.get("role"), r.get("member"))
        for r in stack.of_type(RUN_GRANT)
        if r.get("name") == service.get("name")
    }


def test_the_dashboard_is_behind_iap_by_default(gcp_dev: StackRun) -> None:
    service = gcp_dev.one(RUN_SERVICE, "dashboard")
    assert service.get("iapEnabled") is True
    assert service.get("launchStage") == "BETA"
    # Only IAP's service agent may invoke it: no allUsers.
    assert _invokers(gcp_dev, service) == {("roles/run.invoker", IAP_AGENT)}
    agent = gcp_dev.one("gcp:projects/serviceIdentity:ServiceIdentity")
    assert (agent.get("service"), agent.get("project")) == ("iap.googleapis.com", "streamkit-test")
    assert gcp_dev.outputs["dashboard_access"] == "iap"
    # Nobody is let through yet, and `pulumi up` says how to grant someone.
    assert gcp_dev.of_type(IAP_GRANT) == []
    assert any(GRANT_YOURSELF in w for w in gcp_dev.warnings), gcp_dev.warnings


def test_the_api_stays_public(stack: StackRun) -> None:
    api = stack.one(RUN_SERVICE, "-api")
    assert api.get("iapEnabled") is None and api.get("launchStage") is None
    assert _invokers(stack, api) == {("roles/run.invoker", "allUsers")}


def test_each_member_gets_through_iap_to_the_dashboard_only(gcp_prod: StackRun) -> None:
    service = gcp_prod.one(RUN_SERVICE, "dashboard")
    assert service.get("iapEnabled") is True
    grants = gcp_prod.of_type(IAP_GRANT)
    assert sorted(g.get("member") for g in grants) == sorted(GCP_DASHBOARD_MEMBERS)
    for grant in grants:
        assert grant.get("role") == "roles/iap.httpsResourceAccessor"
        assert grant.get("cloudRunServiceName") == service.get("name")
        assert grant.get("location") == "europe-west1"
    assert _invokers(gcp_prod, service) == {("roles/run.invoker", IAP_AGENT)}
    assert not any("dashboard.members" in w for w in gcp_prod.warnings), gcp_prod.warnings


@pytest.fixture(scope="module")
def gcp_public_dashboard(gcp_run: Callable[..., StackRun]) -> StackRun:
    return gcp_run("dev", "dashboard.access=public")


def test_a_public_dashboard_is_an_explicit_choice(
    gcp_public_dashboard: StackRun, gcp_dev: StackRun
) -> None:
    public = gcp_public_dashboard
    service = public.one(RUN_SERVICE, "dashboard")
    assert _invokers(public, service) == {("roles/run.invoker", "allUsers")}
    assert public.outputs["dashboard_access"] == "public"
    assert public.of_type(IAP_GRANT) == []
    assert public.of_type("gcp:projects/serviceIdentity:ServiceIdentity") == []
    # The service as it was before IAP: the same arguments but the two that turn IAP on.
    behind_iap = gcp_dev.one(RUN_SERVICE, "dashboard").inputs
    assert service.inputs == {
        k: v for k, v in behind_iap.items() if k not in ("iapEnabled", "launchStage")
    }
    assert public.violations == []  # the policy accepts it: the stack says so
    assert not any("dashboard" in w for w in public.warnings), public.warnings


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            'dashboard.members=["ana@example.com"]',
            "dashboard.members[0] 'ana@example.com' is not user:<email>, group:<email>, "
            "domain:<domain> or serviceAccount:<email>; "
            "fix: pulumi config set --path 'dashboard.members[0]' user:ana@example.com",
        ),
        (
            'dashboard.members=["user:ana@example.com", "domain:ana@example.com"]',
            "dashboard.members[1] 'domain:ana@example.com' is not user:<email>",
        ),
        (
            'dashboard.members=["allUsers"]',
            "dashboard.members[0] 'allUsers' would let anyone in: "
            "that is dashboard.access public, not a member",
        ),
        ("dashboard.members=user:ana@example.com", "dashboard.members is not a list"),
        (
            "dashboard.access=open",
            "dashboard.access is 'open'; allowed: 'iap' (the default: only dashboard.members, "
            "through Identity-Aware Proxy) or 'public' (anyone on the internet); "
            "fix: pulumi config set --path 'dashboard.access' iap",
        ),
    ],
)
def test_a_bad_dashboard_config_is_refused_naming_the_fix(
    gcp_run: Callable[..., StackRun], setting: str, message: str
) -> None:
    with pytest.raises(RuntimeError) as refused:
        gcp_run("dev", setting)
    assert f"streamkit-gcp:{message}" in str(refused.value)
