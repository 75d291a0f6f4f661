"""The VPC: public subnets for the load balancer and NAT, private ones for everything else.

DocumentDB, the Lambda function, the EMR Serverless workers and the dashboard's tasks live in
the private subnets; their only way out is the NAT gateway or a VPC endpoint. The S3 gateway
endpoint (free) carries the archive's and the checkpoints' traffic; interface endpoints
(config ``network.interfaceEndpoints``) keep Kinesis reads and secret reads off the NAT.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.aws.config import NetworkConfig


def tcp_rule(port: int, **peers: Any) -> dict[str, Any]:
    """A security group rule for one TCP port, with ``cidr_blocks=`` or ``security_groups=``."""
    return {"protocol": "tcp", "from_port": port, "to_port": port, **peers}


def any_egress() -> dict[str, Any]:
    """Outbound anywhere: the workloads reach AWS APIs and the internet through NAT or endpoints."""
    return {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}


def _cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(public /24s, private /20s): the first /20 is cut into the public /24s."""
    blocks = list(ipaddress.ip_network(vpc_cidr).subnets(new_prefix=20))
    public = [str(n) for n in list(blocks[0].subnets(new_prefix=24))[:zones]]
    private = [str(n) for n in blocks[1 : 1 + zones]]
    return public, private


class Network(pulumi.ComponentResource):
    """A VPC over ``azCount`` zones, with NAT and endpoints."""

    def __init__(
        self, name: str, cfg: NetworkConfig, region: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the VPC, subnets, routes, NAT gateways and endpoints."""
        super().__init__("streamkit:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(state="available").names
        public_cidrs, private_cidrs = _cidrs(cfg.cidr, cfg.azCount)
        self.cidr = cfg.cidr
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cfg.cidr,
            enable_dns_hostnames=True,  # interface endpoints' private DNS needs both
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        public_table = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        private_tables: list[aws.ec2.RouteTable] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        for i in range(cfg.azCount):
            zone = zones.apply(lambda names, i=i: names[i])
            public = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=zone,
                map_public_ip_on_launch=False,  # only the ALB and NAT live here, with their own IPs
                tags={"Name": f"{name}-public-{i}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}",
                subnet_id=public.id,
                route_table_id=public_table.id,
                opts=child,
            )
            self.public_subnets.append(public)
            if i < cfg.natGateways:
                address = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", opts=child)
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i}", allocation_id=address.id, subnet_id=public.id, opts=child
                    )
                )
        for i in range(cfg.azCount):
            private = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=zones.apply(lambda names, i=i: names[i]),
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{i}", "tier": "private"},
                opts=child,
            )
            routes = (
                [
                    {
                        "cidr_block": "0.0.0.0/0",
                        "nat_gateway_id": nat_gateways[min(i, len(nat_gateways) - 1)].id,
                    }
                ]
                if nat_gateways
                else []
            )
            table = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                routes=routes,
                tags={"Name": f"{name}-private-{i}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=private.id, route_table_id=table.id, opts=child
            )
            self.private_subnets.append(private)
            private_tables.append(table)
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_tables],
            opts=child,
        )
        self._interface_endpoints(name, cfg, region, child)
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.register_outputs({"vpc_id": self.vpc.id})

    def _interface_endpoints(
        self, name: str, cfg: NetworkConfig, region: str, child: pulumi.ResourceOptions
    ) -> None:
        if not cfg.interfaceEndpoints:
            return
        group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=self.vpc.id,
            description="HTTPS to the VPC's interface endpoints, from inside the VPC only",
            ingress=[tcp_rule(443, cidr_blocks=[self.cidr])],
            opts=child,
        )
        for service in cfg.interfaceEndpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in self.private_subnets],
                security_group_ids=[group.id],
                opts=child,
            )
