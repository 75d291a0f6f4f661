"""The AWS program builds (dev and prod) with the resources and properties the design names."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from adapters.bus.kinesis import parse_kinesis_url
from infra.aws.config import DashboardConfig, check_dashboard
from infra.aws.dashboard_login import domain_prefix
from infra.common.settings_outputs import SETTING_OUTPUTS
from infra.policy.checks.database import public_subnets
from infra.policy.harness import run_in_subprocess
from tests.infra.conftest import PROD_DASHBOARD_HOST, StackRun

COMPONENTS = {
    "Network",
    "Bus",
    "Archive",
    "HotStore",
    "ApiKeys",
    "StreamJob",
    "Api",
    "Dashboard",
    "Monitoring",
    "AuditTrail",
}


@pytest.fixture(params=["aws_dev", "aws_prod"])
def stack(request: pytest.FixtureRequest) -> StackRun:
    return request.getfixturevalue(request.param)


def test_builds_every_component_and_passes_every_policy(stack: StackRun) -> None:
    assert stack.components("aws") == COMPONENTS
    assert stack.violations == []


def test_outputs_are_named_like_the_settings(stack: StackRun) -> None:
    outputs = stack.outputs
    assert set(SETTING_OUTPUTS) <= set(outputs)
    events = stack.one("aws:kinesis/stream:Stream", "events").get("name")
    assert outputs["bus_url"] == f"kinesis://{events}?region=eu-west-1"
    target = parse_kinesis_url(outputs["bus_url"])
    assert (target.stream, target.region) == (events, "eu-west-1")
    assert (
        outputs["deadletter_url"].startswith("kinesis://")
        and "deadletter" in outputs["deadletter_url"]
    )
    bucket = stack.one("aws:s3/bucket:Bucket", "data").id
    assert outputs["archive_url"] == f"s3://{bucket}/archive"
    assert outputs["checkpoint_dir"] == f"s3://{bucket}/checkpoints"
    assert (
        outputs["api_url"].startswith("https://")
        and outputs["dashboard__api_url"] == outputs["api_url"]
    )
    assert outputs["dashboard_url"].startswith("http")


def _secret_value(stack: StackRun, secret_arn: str) -> str:
    (secret,) = [
        r for r in stack.of_type("aws:secretsmanager/secret:Secret") if r.name in secret_arn
    ]
    version = next(
        v
        for v in stack.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if v.name == secret.name
    )
    assert "4dabf18193072939515e22adb298388d" in version.inputs["secretString"], (
        "not a Pulumi secret"
    )
    return version.get("secretString")


def test_hot_store_url_is_a_reference_to_a_documentdb_secret(aws_dev: StackRun) -> None:
    ref = aws_dev.outputs["hot_store_url"]
    assert ref.startswith("aws-secretsmanager://arn:aws:secretsmanager:")
    url = _secret_value(aws_dev, ref)
    assert url.startswith("mongodb://streamkit:")
    for part in (
        "tls=true",
        "tlsCAFile=global-bundle.pem",
        "retryWrites=false",
        "authSource=admin",
        "/streamkit?",
    ):
        assert part in url
    assert "readPreference" not in url  # the job reads what it wrote: the primary
    (lambda_secret,) = [
        r for r in aws_dev.of_type("aws:secretsmanager/secret:Secret") if "url-lambda" in r.name
    ]
    lambda_url = _secret_value(aws_dev, lambda_secret.name)
    assert "tlsCAFile=/opt/global-bundle.pem" in lambda_url
    assert "readPreference=secondaryPreferred" in lambda_url
    assert aws_dev.outputs["api__keys"].startswith("aws-secretsmanager://")


def test_documentdb_is_encrypted_in_private_subnets_behind_its_clients(stack: StackRun) -> None:
    cluster = stack.one("aws:docdb/cluster:Cluster")
    assert cluster.get("storageEncrypted") is True
    group = stack.resources.by_id(cluster.get("dbSubnetGroupName"))
    assert group is not None
    private = {
        s.id for s in stack.of_type("aws:ec2/subnet:Subnet") if s.get("tags", "tier") == "private"
    }
    assert set(group.get("subnetIds")) == private
    assert not private & public_subnets(stack.resources)
    (docdb_group,) = (stack.resources.by_id(g) for g in cluster.get("vpcSecurityGroupIds"))
    (rule,) = docdb_group.get("ingress")
    clients = stack.one("aws:ec2/securityGroup:SecurityGroup", "hot-clients")
    assert rule["securityGroups"] == [clients.id] and not rule.get("cidrBlocks")
    assert rule["fromPort"] == rule["toPort"] == 27017


def test_documentdb_capacity_and_protection_differ_by_stack(
    aws_dev: StackRun, aws_prod: StackRun
) -> None:
    assert len(aws_dev.of_type("aws:docdb/clusterInstance:ClusterInstance")) == 1
    assert len(aws_prod.of_type("aws:docdb/clusterInstance:ClusterInstance")) == 2
    assert aws_prod.one("aws:docdb/cluster:Cluster").get("deletionProtection") is True
    assert aws_dev.one("aws:docdb/cluster:Cluster").get("deletionProtection") is False


def test_kinesis_capacity_from_config(aws_dev: StackRun, aws_prod: StackRun) -> None:
    dev = aws_dev.one("aws:kinesis/stream:Stream", "events")
    assert (
        dev.get("streamModeDetails", "streamMode") == "ON_DEMAND" and dev.get("shardCount") is None
    )
    prod = aws_prod.one("aws:kinesis/stream:Stream", "events")
    assert (
        prod.get("streamModeDetails", "streamMode") == "PROVISIONED" and prod.get("shardCount") == 4
    )
    for stream in aws_prod.of_type("aws:kinesis/stream:Stream"):
        assert stream.get("encryptionType") == "KMS"


def test_archive_bucket_is_private_kms_encrypted_and_ages_to_cheaper_storage(
    aws_dev: StackRun,
) -> None:
    bucket = aws_dev.one("aws:s3/bucket:Bucket", "data")
    key = aws_dev.one("aws:kms/key:Key")
    assert key.get("enableKeyRotation") is True
    sse = next(
        r
        for r in aws_dev.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        if r.get("bucket") == bucket.id
    )
    default = sse.get("rules", 0, "applyServerSideEncryptionByDefault")
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith(
        "arn:aws:kms:"
    )
    lifecycle = next(
        r
        for r in aws_dev.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.get("bucket") == bucket.id
    )
    archive_rule = next(
        rule for rule in lifecycle.get("rules") if rule["filter"].get("prefix") == "archive/"
    )
    assert [(t["days"], t["storageClass"]) for t in archive_rule["transitions"]] == [
        (30, "STANDARD_IA"),
        (180, "GLACIER_IR"),
    ]
    policy = json.loads(
        next(
            r
            for r in aws_dev.of_type("aws:s3/bucketPolicy:BucketPolicy")
            if r.get("bucket") == bucket.id
        ).get("policy")
    )
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _spark_defaults(stack: StackRun) -> dict[str, str]:
    app = stack.one("aws:emrserverless/application:Application")
    (config,) = app.get("runtimeConfigurations")
    assert config["classification"] == "spark-defaults"
    return dict(config["properties"])


def test_emr_serverless_runs_the_job_with_its_environment_and_limits(aws_dev: StackRun) -> None:
    app = aws_dev.one("aws:emrserverless/application:Application")
    assert app.get("releaseLabel") == "emr-spark-8.0.0"
    assert app.get("maximumCapacity") == {"cpu": "8 vCPU", "memory": "32 GB", "disk": "400 GB"}
    private = {
        s.id for s in aws_dev.of_type("aws:ec2/subnet:Subnet") if s.get("tags", "tier") == "private"
    }
    assert set(app.get("networkConfiguration", "subnetIds")) == private
    spark = _spark_defaults(aws_dev)
    assert spark["spark.archives"].endswith("/job/streamkit-job-env.tar.gz#environment")
    assert spark["spark.submit.pyFiles"].endswith("/job/streamkit-0.1.0-py3-none-any.whl")
    assert spark["spark.files"].endswith("/job/global-bundle.pem")
    assert spark["spark.emr-serverless.driverEnv.PYSPARK_PYTHON"] == "./environment/bin/python"
    assert spark["spark.executorEnv.PYSPARK_PYTHON"] == "./environment/bin/python"
    assert spark["spark.dynamicAllocation.maxExecutors"] == "2"
    for prefix in ("spark.emr-serverless.driverEnv.", "spark.executorEnv."):
        assert spark[prefix + "STREAMKIT_HOT_STORE_URL"] == aws_dev.outputs["hot_store_url"]
        assert spark[prefix + "STREAMKIT_BUS_URL"] == aws_dev.outputs["bus_url"]
        assert spark[prefix + "STREAMKIT_CHECKPOINT_DIR"] == aws_dev.outputs["checkpoint_dir"]


def test_job_run_request_starts_the_uploaded_entry_script_as_a_streaming_job(
    aws_dev: StackRun,
) -> None:
    request = json.loads(aws_dev.outputs["job_run_request"])
    assert request["mode"] == "STREAMING"
    assert request["applicationId"] == aws_dev.outputs["emr_application_id"]
    assert request["executionRoleArn"] == aws_dev.outputs["job_role_arn"]
    entry = request["jobDriver"]["sparkSubmit"]["entryPoint"]
    assert entry == aws_dev.outputs["archive_url"].replace("/archive", "/job/entry.py")
    uploaded = {
        r.get("key"): r.get("source", "path")
        for r in aws_dev.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    }
    assert uploaded["job/entry.py"].endswith("infra/common/spark_entry.py")
    assert {
        "job/streamkit-0.1.0-py3-none-any.whl",
        "job/streamkit-job-env.tar.gz",
        "job/global-bundle.pem",
    } <= set(uploaded)


def _policy(stack: StackRun, name_contains: str) -> list[dict[str, Any]]:
    return json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", name_contains).get("policy"))[
        "Statement"
    ]


def _secrets_read(statements: list[dict[str, Any]]) -> set[str]:
    return {
        r
        for s in statements
        if "secretsmanager:GetSecretValue" in s["Action"]
        for r in s["Resource"]
    }


def test_each_role_reads_exactly_its_own_secrets(aws_dev: StackRun) -> None:
    job_secret = aws_dev.outputs["hot_store_url"].removeprefix("aws-secretsmanager://")
    keys = aws_dev.outputs["api__keys"].removeprefix("aws-secretsmanager://")
    lambda_secret = next(
        r for r in aws_dev.of_type("aws:secretsmanager/secret:Secret") if "url-lambda" in r.name
    )
    assert _secrets_read(_policy(aws_dev, "job-access")) == {job_secret}
    api_reads = _secrets_read(_policy(aws_dev, "api-access"))
    assert (
        len(api_reads) == 2
        and keys in api_reads
        and any(lambda_secret.name in a for a in api_reads)
    )
    assert _secrets_read(_policy(aws_dev, "dashboard-execution")) == {keys}
    assert _secrets_read(_policy(aws_dev, "kpi-probe")) == {keys}
    assert aws_dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_api_lambda_behind_an_http_api(aws_dev: StackRun) -> None:
    function = aws_dev.one("aws:lambda/function:Function", "api-fn")
    assert function.get("handler") == "app.api.lambda_handler.handler"
    assert function.get("runtime") == "python3.11"
    assert function.get("code", "path").endswith("lambda.zip")
    variables = function.get("environment", "variables")
    assert variables["STREAMKIT_API__CHECK_BUS"] == "false"
    assert (
        variables["STREAMKIT_HOT_STORE_URL"].startswith("aws-secretsmanager://")
        and "url-lambda" in variables["STREAMKIT_HOT_STORE_URL"]
    )
    assert variables["STREAMKIT_API__KEYS"] == aws_dev.outputs["api__keys"]
    layer = aws_dev.one("aws:lambda/layerVersion:LayerVersion")
    assert list(layer.get("code", "assets")) == ["global-bundle.pem"]
    (layer_arn,) = function.get("layers")
    assert layer.name in layer_arn
    assert aws_dev.one("aws:apigatewayv2/api:Api").get("protocolType") == "HTTP"
    stage = aws_dev.one("aws:apigatewayv2/stage:Stage")
    assert (
        stage.get("name") == "$default"
        and stage.get("defaultRouteSettings", "throttlingRateLimit") == 200
    )
    assert (
        aws_dev.one("aws:apigatewayv2/integration:Integration").get("payloadFormatVersion") == "2.0"
    )


def test_dashboard_on_fargate_behind_a_sticky_load_balancer(aws_dev: StackRun) -> None:
    group = aws_dev.one("aws:lb/targetGroup:TargetGroup")
    assert group.get("stickiness") == {
        "type": "lb_cookie",
        "enabled": True,
        "cookieDuration": 86400,
    }
    assert group.get("healthCheck", "path") == "/_stcore/health" and group.get("targetType") == "ip"
    assert aws_dev.one("aws:lb/loadBalancer:LoadBalancer").get("idleTimeout") == 300
    service = aws_dev.one("aws:ecs/service:Service")
    assert service.get("launchType") == "FARGATE"
    assert service.get("networkConfiguration", "assignPublicIp") is False
    (container,) = json.loads(
        aws_dev.one("aws:ecs/taskDefinition:TaskDefinition").get("containerDefinitions")
    )
    assert container["secrets"] == [
        {
            "name": "STREAMKIT_DASHBOARD__API_KEY",
            "valueFrom": aws_dev.outputs["api__keys"].removeprefix("aws-secretsmanager://"),
        }
    ]
    assert {
        "name": "STREAMKIT_DASHBOARD__API_URL",
        "value": aws_dev.outputs["api_url"],
    } in container["environment"]
    image = aws_dev.one("docker:index/image:Image")
    assert image.get("build", "target") == "dashboard" and image.get(
        "build", "dockerfile"
    ).endswith("Dockerfile")
    assert (
        container["image"].startswith("123456789012.dkr.ecr.") and "@sha256:" in container["image"]
    )


def test_prod_dashboard_uses_the_given_image_and_https(aws_prod: StackRun) -> None:
    assert aws_prod.of_type("docker:index/image:Image") == []
    assert aws_prod.of_type("aws:ecr/repository:Repository") == []
    (container,) = json.loads(
        aws_prod.one("aws:ecs/taskDefinition:TaskDefinition").get("containerDefinitions")
    )
    assert container["image"].endswith("streamkit-dashboard:1.0")
    https = aws_prod.one("aws:lb/listener:Listener", "https")
    assert https.get("port") == 443 and https.get("certificateArn").startswith("arn:aws:acm:")
    (http,) = [r for r in aws_prod.of_type("aws:lb/listener:Listener") if r.get("port") == 80]
    redirect = http.get("defaultActions", 0)
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    assert aws_prod.outputs["dashboard_url"].startswith("https://")
    assert len(aws_prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    endpoints = {e.get("serviceName") for e in aws_prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert endpoints == {
        f"com.amazonaws.eu-west-1.{s}" for s in ("s3", "kinesis-streams", "secretsmanager")
    }


COGNITO = (
    "aws:cognito/userPool:UserPool",
    "aws:cognito/userPoolDomain:UserPoolDomain",
    "aws:cognito/userPoolClient:UserPoolClient",
)
OPEN_443 = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}


def test_prod_dashboard_users_are_made_by_administrators_only(aws_prod: StackRun) -> None:
    pool = aws_prod.one("aws:cognito/userPool:UserPool")
    assert pool.get("adminCreateUserConfig", "allowAdminCreateUserOnly") is True
    assert pool.get("deletionProtection") == "ACTIVE"  # follows hotStore.deletionProtection
    policy = pool.get("passwordPolicy")
    assert policy["minimumLength"] >= 12
    kinds = ("Lowercase", "Uppercase", "Numbers", "Symbols")
    assert all(policy[f"require{kind}"] for kind in kinds)
    assert aws_prod.outputs["dashboard_user_pool_id"] == pool.id
    domain = aws_prod.one("aws:cognito/userPoolDomain:UserPoolDomain")
    assert domain.get("userPoolId") == pool.id
    prefix = domain.get("domain")
    assert prefix == domain_prefix("streamkit-prod-dashboard-login", "123456789012", "eu-west-1")
    assert re.fullmatch(r"streamkit-prod-dashboard-login-[0-9a-f]{8}", prefix)


def test_domain_prefix_is_one_cognito_accepts_and_differs_by_account() -> None:
    prefix = domain_prefix("streamkit-AWS_Cognito.dev-" + "x" * 80, "123456789012", "eu-west-1")
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", prefix) and len(prefix) <= 63
    assert not re.search("aws|amazon|cognito", prefix)
    assert domain_prefix("s", "123456789012", "eu-west-1") != domain_prefix(
        "s", "210987654321", "eu-west-1"
    )


def test_prod_load_balancer_signs_users_in_with_cognito_before_forwarding(
    aws_prod: StackRun,
) -> None:
    pool = aws_prod.one("aws:cognito/userPool:UserPool")
    client = aws_prod.one("aws:cognito/userPoolClient:UserPoolClient")
    assert client.get("userPoolId") == pool.id and client.get("generateSecret") is True
    assert client.get("allowedOauthFlowsUserPoolClient") is True
    assert client.get("allowedOauthFlows") == ["code"]
    assert client.get("allowedOauthScopes") == ["openid", "email"]
    assert client.get("callbackUrls") == [f"https://{PROD_DASHBOARD_HOST}/oauth2/idpresponse"]
    assert client.get("supportedIdentityProviders") == ["COGNITO"]
    sign_in, forward = aws_prod.one("aws:lb/listener:Listener", "https").get("defaultActions")
    assert (sign_in["type"], sign_in["order"]) == ("authenticate-cognito", 1)
    cognito = sign_in["authenticateCognito"]
    assert f"userpool/{pool.name}-" in cognito["userPoolArn"]
    assert cognito["userPoolClientId"] == client.id
    domain = aws_prod.one("aws:cognito/userPoolDomain:UserPoolDomain")
    assert cognito["userPoolDomain"] == domain.get("domain")
    assert (forward["type"], forward["order"]) == ("forward", 2)
    assert "targetgroup/" in forward["targetGroupArn"]
    alb_group = aws_prod.one("aws:ec2/securityGroup:SecurityGroup", "dashboard-alb")
    assert OPEN_443 in alb_group.get("egress")  # the ALB calls Cognito's token endpoint
    assert aws_prod.outputs["dashboard_url"] == f"https://{PROD_DASHBOARD_HOST}"
    assert aws_prod.outputs["dashboard_alb_dns_name"].endswith(".elb.amazonaws.com")


def test_dev_dashboard_has_no_sign_in_by_its_explicit_choice(aws_dev: StackRun) -> None:
    assert aws_dev.resources.of_type(*COGNITO) == []
    (listener,) = aws_dev.of_type("aws:lb/listener:Listener")
    (action,) = listener.get("defaultActions")
    assert listener.get("port") == 80 and action["type"] == "forward"
    alb_group = aws_dev.one("aws:ec2/securityGroup:SecurityGroup", "dashboard-alb")
    assert [rule["fromPort"] for rule in alb_group.get("egress")] == [8080]
    assert "dashboard_user_pool_id" not in aws_dev.outputs
    assert aws_dev.outputs["dashboard_url"] == f"http://{aws_dev.outputs['dashboard_alb_dns_name']}"


NEEDS = "auth is cognito \\(the default\\), which needs "


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({}, NEEDS + "dashboard.certificateArn and dashboard.domainName: the load balancer"),
        ({"certificateArn": "arn:aws:acm:x"}, NEEDS + "dashboard.domainName: "),
        ({"domainName": "d.example.com"}, NEEDS + "dashboard.certificateArn: "),
        ({"auth": "basic"}, "auth must be one of cognito, none, not 'basic'"),
        ({"auth": "none", "domainName": "https://d.example.com/"}, "domainName is a host name"),
    ],
)
def test_dashboard_config_errors_name_the_fix(given: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=f"^streamkit-aws:dashboard\\.{error}") as raised:
        check_dashboard(DashboardConfig(**given))
    if error.startswith(NEEDS):
        fixes = ("pulumi config set --path dashboard.", "set dashboard.auth to none")
        assert all(fix in str(raised.value) for fix in fixes)


def test_dashboard_configs_that_are_accepted() -> None:
    check_dashboard(DashboardConfig(auth="none"))
    check_dashboard(DashboardConfig(certificateArn="arn:aws:acm:x", domainName="d.example.com"))


def test_the_stack_stops_before_any_resource_when_cognito_lacks_its_host_name() -> None:
    """load() checks the dashboard: Pulumi.prod.yaml alone, plus a certificate, is refused."""
    certificate = "dashboard.certificateArn=arn:aws:acm:eu-west-1:1:certificate/a"
    with pytest.raises(RuntimeError, match=NEEDS + "dashboard.domainName: "):
        run_in_subprocess("infra/aws", "--stack", "prod", "--set", certificate)


def test_alarms_match_the_alert_rules(stack: StackRun) -> None:
    lag = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", "bus-lag")
    assert (lag.get("namespace"), lag.get("metricName")) == (
        "AWS/Kinesis",
        "GetRecords.IteratorAgeMilliseconds",
    )
    assert lag.get("threshold") == 60_000 and lag.get("statistic") == "Maximum"
    assert lag.get("dimensions") == {
        "StreamName": stack.one("aws:kinesis/stream:Stream", "events").get("name")
    }
    latency = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", "latency-p95")
    assert (latency.get("namespace"), latency.get("metricName")) == (
        "Streamkit",
        "EndToEndLatencyP95",
    )
    assert latency.get("threshold") == 2000
    topic = stack.outputs["alerts_topic_arn"]
    for alarm in (lag, latency):
        assert alarm.get("comparisonOperator") == "GreaterThanThreshold"
        assert alarm.get("treatMissingData") == "breaching"
        assert alarm.get("alarmActions") == [topic]


def test_kpi_probe_runs_every_minute_with_the_key_as_a_reference(aws_dev: StackRun) -> None:
    probe = aws_dev.one("aws:lambda/function:Function", "kpi-probe")
    assert probe.get("handler") == "kpi_probe.lambda_handler"
    assert probe.get("code", "assets", "kpi_probe.py", "path").endswith("infra/common/kpi_probe.py")
    assert probe.get("environment", "variables", "PROBE_API_KEY") == aws_dev.outputs["api__keys"]
    assert (
        aws_dev.one("aws:cloudwatch/eventRule:EventRule").get("scheduleExpression")
        == "rate(1 minute)"
    )


def test_budget_and_audit_trail(aws_dev: StackRun, aws_prod: StackRun) -> None:
    assert aws_dev.one("aws:budgets/budget:Budget").get("limitAmount") == "400.00"
    budget = aws_prod.one("aws:budgets/budget:Budget")
    assert budget.get("limitAmount") == "2000.00" and budget.get("timeUnit") == "MONTHLY"
    kinds = {(n["notificationType"], n["threshold"]) for n in budget.get("notifications")}
    assert kinds == {("ACTUAL", 80), ("FORECASTED", 100)}
    trail = aws_dev.one("aws:cloudtrail/trail:Trail")
    (selector,) = trail.get("advancedEventSelectors")
    fields = {f["field"]: f for f in selector["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"]
    archive = aws_dev.outputs["archive_url"].removeprefix("s3://")
    assert fields["resources.ARN"]["startsWiths"] == [f"arn:aws:s3:::{archive}/"]
    assert trail.get("s3BucketName") == aws_dev.one("aws:s3/bucket:Bucket", "audit-logs").id
