"""Alert policies for the alert rules, the KPI probe that feeds one of them, and the budget.

Alert rules (docs/cloud.md), as Cloud Monitoring alert policies:

* **bus lag > 60 s**: ``pubsub.googleapis.com/subscription/oldest_unacked_message_age`` of the
  job's subscription (Pub/Sub's own metric of the oldest message not yet acknowledged).
* **P95 end-to-end latency > 2 s**: a log-based metric extracting ``latency_p95_ms`` from the
  KPI probe's log lines. The probe (``infra/common/kpi_probe.py``) is a Cloud Run job run every
  minute by Cloud Scheduler; it reads ``GET /kpis/latest`` with the API key (injected from
  Secret Manager) and logs the newest minute's P95. A second condition fires when no reading
  arrives at all (job stopped, API down).

The budget (on the billing account, filtered to this project) notifies at 50 %, 90 % and
100 % of the month's amount spent, and at 100 % forecast.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.common import kpi_probe
from infra.common.files import REPO_ROOT
from infra.gcp.bus import Bus
from infra.gcp.cloud_run import plain_envs, secret_env
from infra.gcp.config import MonitoringConfig
from infra.gcp.iam import member
from infra.gcp.identities import Identities
from infra.gcp.secret import Secret

PROBE_SOURCE = REPO_ROOT / "infra" / "common" / "kpi_probe.py"
OLDEST_UNACKED = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"

Condition = dict[str, Any]


def _above(
    title: str, series: pulumi.Input[str], threshold: float, duration: str, aligner: str
) -> Condition:
    """Fires when ``series``, aligned per minute by ``aligner``, stays over ``threshold``."""
    return {
        "display_name": title,
        "condition_threshold": {
            "filter": series,
            "comparison": "COMPARISON_GT",
            "threshold_value": threshold,
            "duration": duration,
            "aggregations": [{"alignment_period": "60s", "per_series_aligner": aligner}],
        },
    }


class Monitoring(pulumi.ComponentResource):
    """Notification channel, probe, log-based metric, alert policies and budget."""

    def __init__(
        self,
        name: str,
        cfg: MonitoringConfig,
        *,
        project: str,
        project_number: pulumi.Input[str],
        region: str,
        bus: Bus,
        api_url: pulumi.Input[str],
        probe_image: pulumi.Input[str],
        api_keys: Secret,
        identities: Identities,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the monitoring resources."""
        super().__init__("streamkit:gcp:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        channels: list[pulumi.Input[str]] = []
        if cfg.alertEmail:
            channel = gcp.monitoring.NotificationChannel(
                f"{name}-email",
                display_name=f"{name} alerts",
                type="email",
                labels={"email_address": cfg.alertEmail},
                opts=child,
            )
            channels.append(channel.id)
        job_name = f"{name}-kpi-probe"
        self._probe(
            name, job_name, project, region, api_url, probe_image, api_keys, identities, child
        )
        metric = gcp.logging.Metric(
            f"{name}-latency-p95",
            name=f"{name}-e2e-latency-p95",
            description="P95 end-to-end latency of the newest minute, as the KPI probe read it",
            filter=(
                f'resource.type="cloud_run_job" AND resource.labels.job_name="{job_name}" '
                f"AND jsonPayload.{kpi_probe.LOG_FIELD}:*"
            ),
            value_extractor=f"EXTRACT(jsonPayload.{kpi_probe.LOG_FIELD})",
            metric_descriptor={"metric_kind": "DELTA", "value_type": "DISTRIBUTION", "unit": "ms"},
            bucket_options={
                "exponential_buckets": {"num_finite_buckets": 64, "growth_factor": 1.2, "scale": 1}
            },
            opts=child,
        )
        duration = f"{cfg.evaluationMinutes * 60}s"
        latency_filter = metric.name.apply(
            lambda m: (
                f'metric.type="logging.googleapis.com/user/{m}" AND resource.type="cloud_run_job"'
            )
        )

        def alert(
            suffix: str, title: str, conditions: list[Condition]
        ) -> gcp.monitoring.AlertPolicy:
            return gcp.monitoring.AlertPolicy(
                f"{name}-{suffix}",
                display_name=f"{name}: {title}",
                combiner="OR",
                conditions=conditions,
                notification_channels=channels,
                opts=child,
            )

        self.latency_policy = alert(
            "latency-p95",
            f"P95 end-to-end latency > {cfg.latencyP95Ms / 1000:g} s",
            [
                _above(
                    f"P95 > {cfg.latencyP95Ms:g} ms",
                    latency_filter,
                    cfg.latencyP95Ms,
                    duration,
                    "ALIGN_PERCENTILE_99",
                ),
                {
                    "display_name": "no fresh KPI minute (job stopped or API down)",
                    "condition_absent": {
                        "filter": latency_filter,
                        "duration": "300s",
                        "aggregations": [
                            {"alignment_period": "60s", "per_series_aligner": "ALIGN_PERCENTILE_50"}
                        ],
                    },
                },
            ],
        )
        lag_filter = bus.subscription.name.apply(
            lambda s: (
                f'metric.type="{OLDEST_UNACKED}"'
                ' AND resource.type="pubsub_subscription"'
                f' AND resource.labels.subscription_id="{s}"'
            )
        )
        self.lag_policy = alert(
            "bus-lag",
            f"bus lag > {cfg.lagSeconds:g} s",
            [
                _above(
                    f"oldest unacked message older than {cfg.lagSeconds:g} s",
                    lag_filter,
                    cfg.lagSeconds,
                    duration,
                    "ALIGN_MAX",
                )
            ],
        )
        gcp.billing.Budget(
            f"{name}-budget",
            billing_account=cfg.billingAccount,
            display_name=f"{name} monthly",
            budget_filter={"projects": [pulumi.Output.concat("projects/", project_number)]},
            amount={
                "specified_amount": {"currency_code": cfg.currency, "units": str(cfg.monthlyBudget)}
            },
            threshold_rules=[
                {"threshold_percent": 0.5},
                {"threshold_percent": 0.9},
                {"threshold_percent": 1.0},
                {"threshold_percent": 1.0, "spend_basis": "FORECASTED_SPEND"},
            ],
            all_updates_rule={"monitoring_notification_channels": channels} if channels else None,
            opts=child,
        )
        self.register_outputs({})

    @staticmethod
    def _probe(
        name: str,
        job_name: str,
        project: str,
        region: str,
        api_url: pulumi.Input[str],
        image: pulumi.Input[str],
        api_keys: Secret,
        identities: Identities,
        opts: pulumi.ResourceOptions,
    ) -> None:
        grant = api_keys.readable_by(f"{name}-probe-reads-api-keys", member(identities.probe))
        job = gcp.cloudrunv2.Job(
            f"{name}-kpi-probe",
            name=job_name,
            location=region,
            deletion_protection=False,
            template={
                "task_count": 1,
                "template": {
                    "service_account": identities.probe.email,
                    "max_retries": 0,
                    "timeout": "30s",
                    "containers": [
                        {
                            # The API image has Python; the probe is one standard-library file.
                            "image": image,
                            "commands": ["python", "-c", PROBE_SOURCE.read_text()],
                            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                            "envs": [
                                *plain_envs({"PROBE_API_URL": api_url, "PROBE_STACK": name}),
                                secret_env("PROBE_API_KEY", api_keys.secret_id),
                            ],
                        }
                    ],
                },
            },
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[grant])),
        )
        gcp.cloudrunv2.JobIamMember(
            f"{name}-kpi-probe-scheduler",
            name=job.name,
            location=region,
            role="roles/run.invoker",
            member=member(identities.scheduler),
            opts=opts,
        )
        gcp.cloudscheduler.Job(
            f"{name}-kpi-probe",
            name=job_name,
            region=region,
            schedule="* * * * *",
            time_zone="Etc/UTC",
            http_target={
                "http_method": "POST",
                "uri": f"https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job_name}:run",
                "oauth_token": {
                    "service_account_email": identities.scheduler.email,
                    "scope": "https://www.googleapis.com/auth/cloud-platform",
                },
            },
            opts=opts,
        )
