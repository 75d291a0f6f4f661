"""The VPC the stream job runs in and the API egresses through, with one static NAT address.

Atlas admits clients by source address: the Dataproc workers and the API (Cloud Run with
Direct VPC egress, all traffic) leave through Cloud NAT on a reserved address, and that one
address (``/32``) is the Atlas project's whole IP access list. Dataproc Serverless needs
Private Google Access and a subnet open to itself on every port (its driver and executors
talk to each other); nothing else is admitted.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp.config import NetworkConfig


class Network(pulumi.ComponentResource):
    """VPC, subnet, internal firewall rule, router and NAT with a static address."""

    def __init__(
        self, name: str, cfg: NetworkConfig, region: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the network; ``egress_ip`` is the address Atlas admits."""
        super().__init__("streamkit:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = gcp.compute.Network(
            f"{name}-vpc", name=f"{name}-vpc", auto_create_subnetworks=False, opts=child
        )
        self.subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=f"{name}-subnet",
            region=region,
            network=self.vpc.id,
            ip_cidr_range=cfg.cidr,
            private_ip_google_access=True,
            log_config={"aggregation_interval": "INTERVAL_5_MIN", "flow_sampling": 0.1},
            opts=child,
        )
        gcp.compute.Firewall(
            f"{name}-internal",
            name=f"{name}-internal",
            network=self.vpc.id,
            direction="INGRESS",
            source_ranges=[cfg.cidr],
            allows=[{"protocol": "all"}],
            description="Dataproc Serverless: driver and executors talk to each other",
            opts=child,
        )
        address = gcp.compute.Address(f"{name}-nat", name=f"{name}-nat", region=region, opts=child)
        router = gcp.compute.Router(
            f"{name}-router", name=f"{name}-router", region=region, network=self.vpc.id, opts=child
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=f"{name}-nat",
            router=router.name,
            region=region,
            nat_ip_allocate_option="MANUAL_ONLY",
            nat_ips=[address.self_link],
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )
        self.egress_ip = address.address
        self.register_outputs({"egress_ip": self.egress_ip})
