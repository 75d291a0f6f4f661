"""The hot store: MongoDB Atlas on GCP, created with the Atlas Pulumi provider.

Decision: the Atlas provider (not a hand-made connection string): the stack creates the Atlas
project, a replica-set cluster in the stack's region, a database user limited to
``readWrite`` on the ``streamkit`` database of this cluster, and an IP access list holding
only the stack's NAT address. The full ``mongodb+srv://`` URL, password included, goes into
Secret Manager; the job gets a ``gcp-secretmanager://`` reference to it, Cloud Run services
get it through their native secret injection. Atlas encrypts storage at rest and requires TLS.
The provider's API keys come from ``mongodbatlas:publicKey``/``privateKey`` (config secrets)
or ``MONGODB_ATLAS_PUBLIC_KEY``/``MONGODB_ATLAS_PRIVATE_KEY``.
"""

from __future__ import annotations

import pulumi
import pulumi_mongodbatlas as atlas
import pulumi_random as random

from infra.gcp.config import HotStoreConfig
from infra.gcp.secret import Secret

DATABASE = "streamkit"
USER = "streamkit"


def srv_url(standard_srv: str, password: str) -> str:
    """The app's hot store URL from Atlas's ``mongodb+srv://host`` and the user's password."""
    host = standard_srv.removeprefix("mongodb+srv://").rstrip("/")
    return f"mongodb+srv://{USER}:{password}@{host}/{DATABASE}?retryWrites=true&w=majority&appName=streamkit"


class HotStore(pulumi.ComponentResource):
    """The Atlas project, cluster, user, access list and the URL secret."""

    def __init__(
        self,
        name: str,
        cfg: HotStoreConfig,
        *,
        egress_ip: pulumi.Input[str],
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the Atlas resources and store the URL."""
        super().__init__("streamkit:gcp:HotStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = atlas.Project(f"{name}-atlas", name=name, org_id=cfg.atlasOrgId, opts=child)
        self.cluster = atlas.AdvancedCluster(
            f"{name}-cluster",
            project_id=project.id,
            name=name,
            cluster_type="REPLICASET",
            mongo_db_major_version=cfg.mongoVersion,
            backup_enabled=cfg.backup,
            termination_protection_enabled=cfg.terminationProtection,
            replication_specs=[
                {
                    "region_configs": [
                        {
                            "provider_name": "GCP",
                            "region_name": cfg.atlasRegion,
                            "priority": 7,
                            "electable_specs": {"instance_size": cfg.instanceSize, "node_count": 3},
                            "auto_scaling": {"disk_gb_enabled": True},
                        }
                    ]
                }
            ],
            opts=child,
        )
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
        atlas.DatabaseUser(
            f"{name}-user",
            project_id=project.id,
            username=USER,
            password=password.result,
            auth_database_name="admin",
            roles=[{"role_name": "readWrite", "database_name": DATABASE}],
            scopes=[{"name": self.cluster.name, "type": "CLUSTER"}],
            opts=child,
        )
        atlas.ProjectIpAccessList(
            f"{name}-nat",
            project_id=project.id,
            cidr_block=pulumi.Output.concat(egress_ip, "/32"),
            comment="the stack's Cloud NAT address (the stream job and the API)",
            opts=child,
        )
        url = pulumi.Output.all(self.cluster.connection_strings, password.result).apply(
            lambda parts: srv_url(parts[0]["standard_srv"], parts[1])
        )
        self.url_secret = Secret(
            f"{name}-url", secret_id=f"{name}-url", value=url, region=region, opts=child
        )
        self.register_outputs({"secret": self.url_secret.ref})
