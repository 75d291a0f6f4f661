"""``database``: no database reachable from the internet.

* DocumentDB: the cluster's subnet group holds only private subnets, and no security group
  of the cluster admits ``0.0.0.0/0`` or ``::/0``. A subnet is public when instances launched
  in it get public addresses or its route table sends traffic to an internet gateway; this is
  read from the recorded VPC resources (route tables, routes, associations), not from names.
* RDS-style instances: ``publiclyAccessible`` is not on.
* MongoDB Atlas: the project's IP access list admits no ``/0`` range.
* Docker (the local stack): every published port binds to loopback only; Docker's default,
  an empty host IP, means every interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.policy.checks.violation import Violation
from infra.policy.recorded import Resource, Resources

CHECK = "database"
_OPEN = frozenset({"0.0.0.0/0", "::/0"})
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_ANY = "0.0.0.0"  # noqa: S104 - the address we look for, not one we bind


def public_subnets(resources: Resources) -> set[str]:
    """Ids of the subnets that are public (public IPs on launch, or a route to the internet)."""
    gateways = {r.id for r in resources.of_type("aws:ec2/internetGateway:InternetGateway")}
    routed = {
        str(r.get("routeTableId"))
        for r in resources.of_type("aws:ec2/route:Route")
        if r.get("gatewayId") in gateways
    }
    for table in resources.of_type("aws:ec2/routeTable:RouteTable"):
        if any((route or {}).get("gatewayId") in gateways for route in table.get("routes") or []):
            routed.add(table.id)
    public = {
        s.id
        for s in resources.of_type("aws:ec2/subnet:Subnet")
        if s.get("mapPublicIpOnLaunch") is True
    }
    for association in resources.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        if association.get("routeTableId") in routed:
            public.add(str(association.get("subnetId")))
    return public


def _open_ingress(resources: Resources, group_id: str) -> Iterator[str]:
    group = resources.by_id(group_id)
    rules: list[dict[str, Any]] = list(group.get("ingress") or []) if group else []
    for rule in resources.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if rule.get("securityGroupId") == group_id:
            rules.append(
                {"cidrBlocks": [rule.get("cidrIpv4")], "ipv6CidrBlocks": [rule.get("cidrIpv6")]}
            )
    for rule in resources.of_type("aws:ec2/securityGroupRule:SecurityGroupRule"):
        if rule.get("securityGroupId") == group_id and rule.get("type") == "ingress":
            rules.append(rule.inputs)
    for rule in rules:
        ranges = {*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])}
        for cidr in sorted(ranges & _OPEN):
            yield f"security group {group_id} admits {cidr}"


def _docdb(resources: Resources, cluster: Resource, public: set[str]) -> Iterator[str]:
    group = resources.by_id(cluster.get("dbSubnetGroupName"))
    if group is None:
        yield "no subnet group of its own: it would land in the default VPC's public subnets"
    else:
        exposed = sorted(set(group.get("subnetIds") or []) & public)
        if exposed:
            yield f"subnet group {group.name} includes public subnets {exposed}"
    groups = cluster.get("vpcSecurityGroupIds") or []
    if not groups:
        yield "no security group of its own: the VPC's default group would apply"
    for group_id in groups:
        yield from _open_ingress(resources, str(group_id))


def _container_ports(container: Resource) -> Iterator[str]:
    for port in container.get("ports") or []:
        ip = (port or {}).get("ip") or ""
        if ip not in _LOOPBACK:
            where = ip or "every interface (Docker's default)"
            host, inside = int(port.get("external") or 0), int(port.get("internal") or 0)
            yield f"port {host} -> {inside} published on {where}"


def check_database(resources: Resources) -> list[Violation]:
    """Databases placed in public subnets, open to the internet, or published beyond loopback."""
    found: list[Violation] = []
    public = public_subnets(resources)
    for cluster in resources.of_type("aws:docdb/cluster:Cluster"):
        found += [Violation.of(CHECK, cluster, m) for m in _docdb(resources, cluster, public)]
    for instance in resources.of_type(
        "aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"
    ):
        if instance.get("publiclyAccessible") is True:
            found.append(Violation.of(CHECK, instance, "publicly accessible"))
    for entry in resources.of_type("mongodbatlas:index/projectIpAccessList:ProjectIpAccessList"):
        cidr = str(entry.get("cidrBlock") or "")
        if cidr.endswith("/0") or entry.get("ipAddress") == _ANY:
            found.append(
                Violation.of(
                    CHECK, entry, f"Atlas access list admits the internet ({cidr or _ANY})"
                )
            )
    for container in resources.of_type("docker:index/container:Container"):
        found += [Violation.of(CHECK, container, m) for m in _container_ports(container)]
    return found
