"""The hot store: a DocumentDB cluster in the private subnets, its URL in Secrets Manager.

Only members of ``client_group`` (the API's Lambda function and the job's EMR workers) reach
port 27017; the cluster's storage is encrypted, TLS is required, and the master password is
generated here and lives only in the Pulumi state (encrypted) and in the secrets.

DocumentDB's certificate is signed by the RDS CA, which no system trust store holds, so the
URL names a CA file. Its path differs by runtime, hence one secret per runtime, each readable
by exactly that runtime's role:

* ``job_secret``: ``tlsCAFile=global-bundle.pem``, the file Spark ships into the working
  directory of the driver and every executor (``spark.files``);
* ``lambda_secret``: ``tlsCAFile=/opt/global-bundle.pem``, from a Lambda layer.

``retryWrites=false`` because DocumentDB has no retryable writes; ``authSource=admin`` because
the master user is defined there.
"""

from __future__ import annotations

from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.aws.config import HotStoreConfig
from infra.aws.network import Network, any_egress, tcp_rule

DATABASE = "streamkit"
USER = "streamkit"
PORT = 27017
SPARK_CA_PATH = "global-bundle.pem"
LAMBDA_CA_PATH = "/opt/global-bundle.pem"


def mongo_url(password: str, host: str, ca_path: str, *, replica_reads: bool = False) -> str:
    """The hot store URL the app expects for DocumentDB.

    ``replica_reads`` lets reads go to a replica (the API: a second or so behind is fine, and
    it spares the primary); the job reads what it just wrote, so it stays on the primary.
    """
    options = [
        "tls=true",
        f"tlsCAFile={quote(ca_path, safe='/')}",
        "replicaSet=rs0",
        "retryWrites=false",
        "authSource=admin",
    ]
    if replica_reads:
        options.append("readPreference=secondaryPreferred")
    return (
        f"mongodb://{USER}:{quote(password, safe='')}@{host}:{PORT}/{DATABASE}?{'&'.join(options)}"
    )


class HotStore(pulumi.ComponentResource):
    """DocumentDB, its security groups and the per-runtime URL secrets."""

    def __init__(
        self,
        name: str,
        cfg: HotStoreConfig,
        network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the cluster, its instances and the URL secrets."""
        super().__init__("streamkit:aws:HotStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.client_group = aws.ec2.SecurityGroup(
            f"{name}-clients",
            vpc_id=network.vpc.id,
            description="Members may connect to the hot store (the API and the stream job)",
            egress=[any_egress()],
            opts=child,
        )
        group = aws.ec2.SecurityGroup(
            f"{name}-docdb",
            vpc_id=network.vpc.id,
            description="DocumentDB: port 27017 from the hot store's clients only",
            ingress=[tcp_rule(PORT, security_groups=[self.client_group.id])],
            opts=child,
        )
        subnets = aws.docdb.SubnetGroup(
            f"{name}-docdb", subnet_ids=network.private_subnet_ids, opts=child
        )
        parameters = aws.docdb.ClusterParameterGroup(
            f"{name}-docdb",
            family=f"docdb{'.'.join(cfg.engineVersion.split('.')[:2])}",
            parameters=[
                {"name": "tls", "value": "enabled"},
                {"name": "audit_logs", "value": "enabled"},
            ],
            opts=child,
        )
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
        self.cluster = aws.docdb.Cluster(
            f"{name}-docdb",
            engine="docdb",
            engine_version=cfg.engineVersion,
            master_username=USER,
            master_password=password.result,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            db_cluster_parameter_group_name=parameters.name,
            storage_encrypted=True,
            backup_retention_period=cfg.backupRetentionDays,
            deletion_protection=cfg.deletionProtection,
            skip_final_snapshot=cfg.skipFinalSnapshot,
            final_snapshot_identifier=None if cfg.skipFinalSnapshot else f"{name}-final",
            enabled_cloudwatch_logs_exports=["audit"],
            opts=child,
        )
        for i in range(cfg.instances):
            aws.docdb.ClusterInstance(
                f"{name}-docdb-{i}",
                cluster_identifier=self.cluster.id,
                instance_class=cfg.instanceClass,
                opts=child,
            )
        self.job_secret = self._url_secret(f"{name}-url-job", password, SPARK_CA_PATH, False, child)
        self.lambda_secret = self._url_secret(
            f"{name}-url-lambda", password, LAMBDA_CA_PATH, True, child
        )
        self.register_outputs({"endpoint": self.cluster.endpoint})

    def _url_secret(
        self,
        name: str,
        password: random.RandomPassword,
        ca_path: str,
        replica_reads: bool,
        opts: pulumi.ResourceOptions,
    ) -> aws.secretsmanager.Secret:
        secret = aws.secretsmanager.Secret(
            name, description=f"streamkit hot store URL (CA file {ca_path})", opts=opts
        )
        url = pulumi.Output.all(password.result, self.cluster.endpoint).apply(
            lambda parts: mongo_url(parts[0], parts[1], ca_path, replica_reads=replica_reads)
        )
        aws.secretsmanager.SecretVersion(
            name, secret_id=secret.id, secret_string=pulumi.Output.secret(url), opts=opts
        )
        return secret
