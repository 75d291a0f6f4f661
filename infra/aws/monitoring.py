"""Alarms for the alert rules, the KPI probe that feeds one of them, and the monthly budget.

Alert rules (docs/cloud.md), as CloudWatch alarms to one SNS topic:

* **bus lag > 60 s**: the age of the oldest record the job has not read yet, Kinesis's own
  ``GetRecords.IteratorAgeMilliseconds`` (maximum over a minute).
* **P95 end-to-end latency > 2 s**: ``Streamkit/EndToEndLatencyP95``, written once a minute
  by the KPI probe (a small Lambda function reading ``GET /kpis/latest``; see
  ``infra/common/kpi_probe.py``), because the job keeps latency in the hot store.

Both treat missing data as breaching: no reads, or no fresh minute, is itself an incident.
The budget alarms at 80 % of the month's amount spent and at 100 % forecast.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws.api_keys import ApiKeys
from infra.aws.bus import Bus
from infra.aws.config import MonitoringConfig
from infra.aws.iam import allow, document, log_group_statement, role_policy, service_role
from infra.common import kpi_probe
from infra.common.files import REPO_ROOT
from infra.common.settings_outputs import aws_secret_ref

PROBE_SOURCE = REPO_ROOT / "infra" / "common" / "kpi_probe.py"


class Monitoring(pulumi.ComponentResource):
    """The alerts topic, the two alert-rule alarms, the KPI probe and the budget."""

    def __init__(
        self,
        name: str,
        cfg: MonitoringConfig,
        *,
        stack: str,
        bus: Bus,
        api_url: pulumi.Input[str],
        api_keys: ApiKeys,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the topic, alarms, probe and budget."""
        super().__init__("streamkit:aws:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = self._topic(name, cfg, child)
        actions = [self.topic.arn]
        periods = cfg.evaluationMinutes
        self.lag_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-bus-lag",
            alarm_description=f"Alert rule: bus lag > {cfg.lagSeconds:g} s (oldest unread event)",
            namespace="AWS/Kinesis",
            metric_name="GetRecords.IteratorAgeMilliseconds",
            dimensions={"StreamName": bus.events.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            threshold=cfg.lagSeconds * 1000,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=child,
        )
        self.latency_alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-latency-p95",
            alarm_description=f"Alert rule: P95 end-to-end latency > {cfg.latencyP95Ms / 1000:g} s",
            namespace=kpi_probe.NAMESPACE,
            metric_name=kpi_probe.METRIC,
            dimensions={"Stack": stack},
            statistic="Maximum",
            period=60,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            threshold=cfg.latencyP95Ms,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=child,
        )
        self._probe(name, stack, api_url, api_keys, child)
        aws.budgets.Budget(
            f"{name}-budget",
            name=f"{name}-monthly",
            budget_type="COST",
            limit_amount=f"{cfg.monthlyBudgetUsd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            notifications=[
                {
                    "comparison_operator": "GREATER_THAN",
                    "threshold": 80,
                    "threshold_type": "PERCENTAGE",
                    "notification_type": "ACTUAL",
                    "subscriber_sns_topic_arns": actions,
                },
                {
                    "comparison_operator": "GREATER_THAN",
                    "threshold": 100,
                    "threshold_type": "PERCENTAGE",
                    "notification_type": "FORECASTED",
                    "subscriber_sns_topic_arns": actions,
                },
            ],
            opts=child,
        )
        self.register_outputs({"topic_arn": self.topic.arn})

    @staticmethod
    def _topic(name: str, cfg: MonitoringConfig, opts: pulumi.ResourceOptions) -> aws.sns.Topic:
        # Not KMS-encrypted: alarm and budget notices carry no data, and CloudWatch alarms
        # cannot publish to a topic under the AWS-managed SNS key.
        topic = aws.sns.Topic(f"{name}-alerts", opts=opts)
        account = aws.get_caller_identity_output().account_id
        publish = {
            "Sid": "AlarmsAndBudgetsPublish",
            "Effect": "Allow",
            "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]},
            "Action": "sns:Publish",
            "Resource": topic.arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
        aws.sns.TopicPolicy(f"{name}-alerts", arn=topic.arn, policy=document([publish]), opts=opts)
        if cfg.alertEmail:
            aws.sns.TopicSubscription(
                f"{name}-alerts-email",
                topic=topic.arn,
                protocol="email",
                endpoint=cfg.alertEmail,
                opts=opts,
            )
        return topic

    @staticmethod
    def _probe(
        name: str,
        stack: str,
        api_url: pulumi.Input[str],
        api_keys: ApiKeys,
        opts: pulumi.ResourceOptions,
    ) -> aws.lambda_.Function:
        function_name = f"{name}-kpi-probe"
        logs = aws.cloudwatch.LogGroup(
            f"{name}-kpi-probe",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=14,
            opts=opts,
        )
        role = service_role(f"{name}-kpi-probe", "lambda.amazonaws.com", opts)
        access = role_policy(
            f"{name}-kpi-probe",
            role,
            [
                log_group_statement(logs.arn),
                allow(["secretsmanager:GetSecretValue"], [api_keys.secret.arn], "ReadApiKey"),
            ],
            opts,
        )
        function = aws.lambda_.Function(
            f"{name}-kpi-probe",
            name=function_name,
            runtime="python3.11",
            handler="kpi_probe.lambda_handler",
            code=pulumi.AssetArchive({"kpi_probe.py": pulumi.FileAsset(str(PROBE_SOURCE))}),
            role=role.arn,
            memory_size=128,
            timeout=20,
            environment={
                "variables": {
                    "PROBE_API_URL": api_url,
                    "PROBE_API_KEY": api_keys.secret.arn.apply(aws_secret_ref),
                    "PROBE_STACK": stack,
                }
            },
            logging_config={"log_format": "Text", "log_group": logs.name},
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[access, logs])
            ),
        )
        schedule = aws.cloudwatch.EventRule(
            f"{name}-kpi-probe", schedule_expression="rate(1 minute)", opts=opts
        )
        aws.cloudwatch.EventTarget(
            f"{name}-kpi-probe", rule=schedule.name, arn=function.arn, opts=opts
        )
        aws.lambda_.Permission(
            f"{name}-kpi-probe",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
            opts=opts,
        )
        return function
