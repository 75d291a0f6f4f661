"""The KPI API on Lambda (the zip of ``streamkit package lambda``) behind an API Gateway HTTP API.

The function runs in the private subnets as a hot-store client. Its settings are plain
values except the two secrets, which are references (``aws-secretsmanager://``) to the
Lambda form of the hot store URL and to the API keys; its role may read exactly those two
secrets, write its own log group and manage its network interfaces. The HTTP API's
``$default`` stage throttles the whole API and writes access logs; no base path is needed.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.aws.api_keys import ApiKeys
from infra.aws.config import ApiConfig
from infra.aws.hot_store import HotStore
from infra.aws.iam import allow, log_group_statement, role_policy, service_role
from infra.aws.network import Network
from infra.common.settings_outputs import aws_secret_ref

HANDLER = "app.api.lambda_handler.handler"
RUNTIME = "python3.11"
_DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
_ENI = [
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


class Api(pulumi.ComponentResource):
    """The Lambda function, its role and layer, and the HTTP API in front of it."""

    def __init__(
        self,
        name: str,
        cfg: ApiConfig,
        *,
        settings: dict[str, pulumi.Input[str]],
        lambda_zip: Path,
        ca_bundle: Path,
        hot_store: HotStore,
        api_keys: ApiKeys,
        network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the function and its HTTP API; ``url`` is the API's base URL."""
        super().__init__("streamkit:aws:Api", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{name}",
            retention_in_days=cfg.logRetentionDays,
            opts=child,
        )
        role = service_role(f"{name}-role", "lambda.amazonaws.com", child)
        access = role_policy(
            f"{name}-access", role, self._statements(logs, hot_store, api_keys, network), child
        )
        # The CA bundle the Lambda form of the hot store URL names (/opt/global-bundle.pem).
        layer = aws.lambda_.LayerVersion(
            f"{name}-rds-ca",
            layer_name=f"{name}-rds-ca",
            code=pulumi.AssetArchive({"global-bundle.pem": pulumi.FileAsset(str(ca_bundle))}),
            compatible_runtimes=[RUNTIME],
            opts=child,
        )
        variables = {
            **settings,
            "STREAMKIT_HOT_STORE_URL": hot_store.lambda_secret.arn.apply(aws_secret_ref),
            "STREAMKIT_API__KEYS": api_keys.secret.arn.apply(aws_secret_ref),
            # The Lambda package holds no bus client (docs/api.md): keep the bus out of /health.
            "STREAMKIT_API__CHECK_BUS": "false",
            "STREAMKIT_STATE_DIR": "/tmp/streamkit",  # noqa: S108 - Lambda's only writable place
        }
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            name=name,
            runtime=RUNTIME,
            architectures=["x86_64"],
            handler=HANDLER,
            code=pulumi.FileArchive(str(lambda_zip)),
            role=role.arn,
            memory_size=cfg.memoryMb,
            timeout=cfg.timeoutSeconds,
            reserved_concurrent_executions=cfg.reservedConcurrency,
            layers=[layer.arn],
            vpc_config={
                "subnet_ids": network.private_subnet_ids,
                "security_group_ids": [hot_store.client_group.id],
            },
            environment={"variables": variables},
            logging_config={"log_format": "Text", "log_group": logs.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, logs]),
        )
        self.http_api = aws.apigatewayv2.Api(
            f"{name}-http", name=name, protocol_type="HTTP", opts=child
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-lambda",
            api_id=self.http_api.id,
            integration_type="AWS_PROXY",
            integration_uri=self.function.invoke_arn,
            integration_method="POST",
            payload_format_version="2.0",
            opts=child,
        )
        aws.apigatewayv2.Route(
            f"{name}-default",
            api_id=self.http_api.id,
            route_key="$default",
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            opts=child,
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs", retention_in_days=cfg.logRetentionDays, opts=child
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.http_api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_rate_limit": cfg.throttleRate,
                "throttling_burst_limit": cfg.throttleBurst,
                "detailed_metrics_enabled": True,
            },
            access_log_settings={
                "destination_arn": access_logs.arn,
                "format": '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                '"route":"$context.routeKey","status":"$context.status",'
                '"latencyMs":"$context.responseLatency"}',
            },
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.http_api.execution_arn, "/*/*"),
            opts=child,
        )
        self.url = self.http_api.api_endpoint
        self.register_outputs({"url": self.url})

    @staticmethod
    def _statements(
        logs: aws.cloudwatch.LogGroup, hot_store: HotStore, api_keys: ApiKeys, network: Network
    ) -> list[dict[str, object]]:
        region = aws.get_region_output().region
        account = aws.get_caller_identity_output().account_id
        interfaces = pulumi.Output.concat(
            "arn:aws:ec2:", region, ":", account, ":network-interface/*"
        )
        return [
            log_group_statement(logs.arn),
            allow(
                ["secretsmanager:GetSecretValue"],
                [hot_store.lambda_secret.arn, api_keys.secret.arn],
                "ReadOwnSecrets",
            ),
            # Lambda's VPC access, as AWS documents it: describing needs "*" (the actions have
            # no resource types); the interfaces themselves are scoped to this account and region.
            allow(_DESCRIBE, ["*"], "DescribeNetwork"),
            allow(
                ["ec2:CreateNetworkInterface"],
                [interfaces, *(s.arn for s in network.private_subnets), hot_store.client_group.arn],
                "CreateInterfacesInPrivateSubnets",
            ),
            allow(_ENI, [interfaces], "ManageInterfaces"),
        ]
