"""Apache Kafka in KRaft mode (one combined broker and controller) and the streamkit topics.

As infra/local/compose.yaml: containers reach the broker as ``kafka:29092``, the host as
``127.0.0.1:9092``; automatic topic creation is off, and a one-shot container creates
``events_raw`` (3 partitions), ``events_deadletter`` and ``_streamkit_health`` once the
broker is healthy (``pulumi up`` waits for it to finish).
"""

from __future__ import annotations

import pulumi_docker as docker

import pulumi
from infra.local.pulumi.containers import envs, loopback_port, on_network

TOPICS = {"events_raw": 3, "events_deadletter": 1, "_streamkit_health": 1}
INTERNAL = "kafka:29092"
_TOPICS_SCRIPT = """set -e
for spec in {specs}; do
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server {bootstrap} --create --if-not-exists \\
    --topic "${{spec%%:*}}" --partitions "${{spec##*:}}" --replication-factor 1
done"""


class Kafka(pulumi.ComponentResource):
    """The broker container, its volume and the topic-creating container."""

    def __init__(
        self,
        name: str,
        *,
        image: str,
        port: int,
        network: docker.Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Start the broker, wait until healthy, create the topics."""
        super().__init__("streamkit:local:Kafka", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        remote = docker.RemoteImage(f"{name}-image", name=image, keep_locally=True, opts=child)
        data = docker.Volume(f"{name}-data", name=f"{name}-data", opts=child)
        self.container = docker.Container(
            name,
            name=name,
            image=remote.image_id,
            hostname="kafka",
            restart="unless-stopped",
            networks_advanced=on_network(network, "kafka"),
            ports=[loopback_port(port, 9092)],
            envs=envs(
                {
                    "KAFKA_NODE_ID": "1",
                    "KAFKA_PROCESS_ROLES": "broker,controller",
                    "KAFKA_LISTENERS": "PLAINTEXT://:29092,EXTERNAL://:9092,CONTROLLER://:9093",
                    "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{INTERNAL},EXTERNAL://127.0.0.1:{port}",
                    "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
                    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
                        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT"
                    ),
                    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
                    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
                    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
                    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
                    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
                    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
                    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
                    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
                }
            ),
            volumes=[{"volume_name": data.name, "container_path": "/var/lib/kafka/data"}],
            healthcheck={
                "tests": [
                    "CMD-SHELL",
                    "/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:29092 --list"
                    " >/dev/null",
                ],
                "interval": "5s",
                "timeout": "10s",
                "retries": 24,
            },
            wait=True,
            wait_timeout=180,
            opts=child,
        )
        specs = " ".join(f"{topic}:{partitions}" for topic, partitions in TOPICS.items())
        docker.Container(
            f"{name}-topics",
            name=f"{name}-topics",
            image=remote.image_id,
            entrypoints=["/bin/bash", "-c"],
            command=[_TOPICS_SCRIPT.format(specs=specs, bootstrap=INTERNAL)],
            networks_advanced=on_network(network, "kafka-topics"),
            must_run=False,
            attach=True,  # `pulumi up` waits until the topics exist
            logs=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
        )
        self.bus_url = f"kafka://127.0.0.1:{port}/events_raw"
        self.deadletter_url = f"kafka://127.0.0.1:{port}/events_deadletter"
        self.register_outputs({"bus_url": self.bus_url})
