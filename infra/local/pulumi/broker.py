"""Apache Kafka in KRaft mode (one combined broker and controller) and the streamkit topics.

As infra/local/compose.yaml: containers reach the broker as ``kafka:29092``, the host as
``127.0.0.1:9092``; automatic topic creation is off, and a one-shot container creates
``events_raw`` (3 partitions), ``events_deadletter`` and ``_streamkit_health`` once the
broker is healthy (``pulumi up`` waits for it to finish).
"""

from __future__ import annotations

import pulumi_docker as docker

import pulumi
from infra.local.pulumi.containers import on_network, service

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
        kafka = service(
            name,
            image=image,
            alias="kafka",
            network=network,
            ports=(port, 9092),
            data_path="/var/lib/kafka/data",
            healthcheck=[
                "CMD-SHELL",
                "/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:29092 --list"
                " >/dev/null",
            ],
            environment={
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
            },
            parent=self,
        )
        self.container = kafka.container
        specs = " ".join(f"{topic}:{partitions}" for topic, partitions in TOPICS.items())
        docker.Container(
            f"{name}-topics",
            name=f"{name}-topics",
            image=kafka.image.image_id,
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
