"""The dashboard on ECS Fargate behind an Application Load Balancer with sticky sessions.

Streamlit keeps each browser's session in one server process over a WebSocket, so the target
group pins a browser to one task (load-balancer cookie) and the load balancer's idle timeout
is raised above the 60 s default. App Runner is not used: it serves no WebSockets.

The tasks run in the private subnets and take traffic from the load balancer only; they reach
the API's public URL through the NAT gateway. The API key arrives through ECS's own secret
injection (``secrets``/``valueFrom``), never as an environment value.

The load balancer takes traffic from ``allowedCidrs``; with ``certificateArn`` it serves HTTPS
and redirects HTTP. With ``auth: cognito`` (the default, which needs HTTPS) it signs every
browser in against the stack's Cognito user pool before forwarding (``dashboard_login.py``);
``auth: none`` serves the dashboard, and the data behind its key, to anyone in ``allowedCidrs``.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.api_keys import ApiKeys
from infra.aws.config import DashboardConfig
from infra.aws.dashboard_login import CognitoLogin, cognito_login
from infra.aws.iam import allow, log_group_statement, role_policy, service_role
from infra.aws.network import Network, any_egress, tcp_rule
from infra.common.images import built_image

PORT = 8080
HEALTH_PATH = "/_stcore/health"


class Dashboard(pulumi.ComponentResource):
    """The image, the ECS service and the load balancer in front of it."""

    def __init__(
        self,
        name: str,
        cfg: DashboardConfig,
        *,
        api_url: pulumi.Input[str],
        api_keys: ApiKeys,
        network: Network,
        deletion_protection: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the service; ``url`` is the dashboard's address.

        ``deletion_protection`` guards the user pool (``auth: cognito``) as the hot store's
        setting guards the data: losing the pool loses every user's account.
        """
        super().__init__("streamkit:aws:Dashboard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=30, opts=child)
        statements = [
            log_group_statement(logs.arn),
            allow(["secretsmanager:GetSecretValue"], [api_keys.secret.arn], "ReadApiKey"),
        ]
        image: pulumi.Input[str] = cfg.image
        if not cfg.image:
            repository = aws.ecr.Repository(
                f"{name}-images",
                image_tag_mutability="MUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS"}],
                force_delete=True,
                opts=child,
            )
            token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
            image = built_image(
                f"{name}-image",
                target="dashboard",
                repository=repository.repository_url,
                registry={
                    "server": repository.repository_url,
                    "username": token.user_name,
                    "password": token.password,
                },
                platform=cfg.platform,
                opts=child,
            )
            statements += [
                allow(["ecr:GetAuthorizationToken"], ["*"], "EcrLogin"),
                allow(
                    [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    [repository.arn],
                    "PullDashboardImage",
                ),
            ]
        execution_role = service_role(f"{name}-execution", "ecs-tasks.amazonaws.com", child)
        role_policy(f"{name}-execution", execution_role, statements, child)
        task = self._task(name, cfg, image, execution_role, logs, api_url, api_keys, child)
        self.login: CognitoLogin | None = None
        if cfg.auth == "cognito":
            self.login = cognito_login(
                f"{name}-login", cfg.domainName, protect=deletion_protection, opts=child
            )
        balancer_group, task_group = self._security_groups(name, cfg, network, child)
        balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=network.public_subnet_ids,
            security_groups=[balancer_group.id],
            idle_timeout=cfg.idleTimeoutSeconds,
            drop_invalid_header_fields=True,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-tasks",
            port=PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=network.vpc.id,
            deregistration_delay=30,
            stickiness={
                "type": "lb_cookie",
                "enabled": True,
                "cookie_duration": cfg.stickinessSeconds,
            },
            health_check={
                "path": HEALTH_PATH,
                "matcher": "200",
                "interval": 15,
                "healthy_threshold": 2,
            },
            opts=child,
        )
        listener = self._listeners(name, cfg, balancer, child)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled"}],
            opts=child,
        )
        aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task.arn,
            desired_count=cfg.desiredCount,
            launch_type="FARGATE",
            network_configuration={
                "subnets": network.private_subnet_ids,
                "security_groups": [task_group.id],
                "assign_public_ip": False,
            },
            load_balancers=[
                {
                    "target_group_arn": self.target_group.arn,
                    "container_name": "dashboard",
                    "container_port": PORT,
                }
            ],
            health_check_grace_period_seconds=60,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[listener]),
        )
        scheme = "https" if cfg.certificateArn else "http"
        host: pulumi.Input[str] = cfg.domainName or balancer.dns_name
        self.url = pulumi.Output.concat(f"{scheme}://", host)
        self.balancer = balancer
        self.register_outputs({"url": self.url})

    @staticmethod
    def _task(
        name: str,
        cfg: DashboardConfig,
        image: pulumi.Input[str],
        execution_role: aws.iam.Role,
        logs: aws.cloudwatch.LogGroup,
        api_url: pulumi.Input[str],
        api_keys: ApiKeys,
        opts: pulumi.ResourceOptions,
    ) -> aws.ecs.TaskDefinition:
        container = {
            "name": "dashboard",
            "image": image,
            "essential": True,
            "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
            "environment": [
                {"name": "PORT", "value": str(PORT)},
                {"name": "STREAMKIT_DASHBOARD__API_URL", "value": api_url},
            ],
            "secrets": [{"name": "STREAMKIT_DASHBOARD__API_KEY", "valueFrom": api_keys.secret.arn}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": logs.name,
                    "awslogs-region": aws.get_region_output().region,
                    "awslogs-stream-prefix": "dashboard",
                },
            },
        }
        return aws.ecs.TaskDefinition(
            f"{name}-task",
            family=name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cfg.cpu),
            memory=str(cfg.memory),
            execution_role_arn=execution_role.arn,
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            container_definitions=pulumi.Output.json_dumps([container]),
            opts=opts,
        )

    @staticmethod
    def _security_groups(
        name: str, cfg: DashboardConfig, network: Network, opts: pulumi.ResourceOptions
    ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        ports = [443, 80] if cfg.certificateArn else [80]
        egress = [tcp_rule(PORT, cidr_blocks=[network.cidr])]
        if cfg.auth == "cognito":
            # Signing in, the load balancer calls Cognito's token and user-info endpoints.
            egress.append(tcp_rule(443, cidr_blocks=["0.0.0.0/0"]))
        balancer = aws.ec2.SecurityGroup(
            f"{name}-alb",
            vpc_id=network.vpc.id,
            description="The dashboard's load balancer: HTTP(S) from the allowed ranges",
            ingress=[tcp_rule(p, cidr_blocks=list(cfg.allowedCidrs)) for p in ports],
            egress=egress,
            opts=opts,
        )
        tasks = aws.ec2.SecurityGroup(
            f"{name}-tasks",
            vpc_id=network.vpc.id,
            description="Dashboard tasks: port 8080 from the load balancer only",
            ingress=[tcp_rule(PORT, security_groups=[balancer.id])],
            egress=[any_egress()],
            opts=opts,
        )
        return balancer, tasks

    def _listeners(
        self,
        name: str,
        cfg: DashboardConfig,
        balancer: aws.lb.LoadBalancer,
        opts: pulumi.ResourceOptions,
    ) -> aws.lb.Listener:
        forward: list[dict[str, Any]] = [
            {"type": "forward", "target_group_arn": self.target_group.arn}
        ]
        if not cfg.certificateArn:
            return aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward,
                opts=opts,
            )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                }
            ],
            opts=opts,
        )
        return aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            certificate_arn=cfg.certificateArn,
            default_actions=self._signed_in(forward),
            opts=opts,
        )

    def _signed_in(self, forward: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The HTTPS actions: sign in first when the dashboard has a login, then forward."""
        if self.login is None:
            return forward
        return [self.login.action(), {**forward[0], "order": 2}]
