"""What the mock engine answers: plausible provider outputs for each resource type and invoke.

A real provider computes ARNs, endpoints and URLs; under mocks they must still look like the
real ones, because the programs build settings (``bus_url``, the hot-store secret's URL) and
IAM policies (resource ARNs) from them, and the checks and tests read those. Values are fixed
(account 123456789012, project ``streamkit-test``), so runs are repeatable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
GCP_PROJECT_NUMBER = "987654321098"
_COMPUTE = "https://www.googleapis.com/compute/v1"
_STORAGE_AGENTS = "gs-project-accounts.iam.gserviceaccount.com"


@dataclass(frozen=True)
class MockContext:
    """Where the mocked resources live."""

    aws_region: str = "eu-west-1"
    gcp_project: str = "streamkit-test"
    gcp_region: str = "europe-west1"


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def _arn(service: str, resource: str, ctx: MockContext, *, global_: bool = False) -> str:
    region = "" if global_ else ctx.aws_region
    account = "" if service == "s3" else ACCOUNT
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def physical_name(name: str, inputs: dict[str, Any]) -> str:
    """The name the provider would use: the given one, else the logical name plus a suffix."""
    given = inputs.get("name")
    return given if isinstance(given, str) and given else f"{name}-{_suffix(name)}"


State = dict[str, Any]
Rule = Callable[[str, dict[str, Any], MockContext], State]


def _bucket(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    bucket = inputs.get("bucket") or f"{name}-{_suffix(name)}"
    return {"id": bucket, "bucket": bucket, "arn": _arn("s3", bucket, ctx, global_=True)}


def _stream(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    stream = physical_name(name, inputs)
    return {"name": stream, "arn": _arn("kinesis", f"stream/{stream}", ctx)}


def _secret(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    secret = physical_name(name, inputs)
    arn = _arn("secretsmanager", f"secret:{secret}-AbCdEf", ctx)
    return {"id": arn, "arn": arn, "name": secret}


def _docdb(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    host = f"{physical_name(name, inputs)}.cluster-c0ffee.{ctx.aws_region}.docdb.amazonaws.com"
    return {
        "endpoint": host,
        "readerEndpoint": host.replace(".cluster-", ".cluster-ro-"),
        "port": 27017,
    }


def _named_by_id(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    """Resources whose id is their name (DocumentDB subnet groups, ECS clusters...)."""
    return {"id": physical_name(name, inputs)}


def _http_api(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    api_id = _suffix(name)
    return {
        "id": api_id,
        "apiEndpoint": f"https://{api_id}.execute-api.{ctx.aws_region}.amazonaws.com",
        "executionArn": _arn("execute-api", api_id, ctx),
    }


def _load_balancer(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    lb = physical_name(name, inputs)
    return {
        "dnsName": f"{lb}-{_suffix(lb)}.{ctx.aws_region}.elb.amazonaws.com",
        "arnSuffix": f"app/{lb}/{_suffix(lb)}",
        "arn": _arn("elasticloadbalancing", f"loadbalancer/app/{lb}/{_suffix(lb)}", ctx),
    }


def _target_group(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    tg = physical_name(name, inputs)
    suffix = f"targetgroup/{tg}/{_suffix(tg)}"
    return {"arnSuffix": suffix, "arn": _arn("elasticloadbalancing", suffix, ctx)}


def _ecr(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    repo = physical_name(name, inputs)
    return {
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{ctx.aws_region}.amazonaws.com/{repo}",
        "registryId": ACCOUNT,
        "arn": _arn("ecr", f"repository/{repo}", ctx),
    }


def _function(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    fn = physical_name(name, inputs)
    arn = _arn("lambda", f"function:{fn}", ctx)
    invoke = (
        f"arn:aws:apigateway:{ctx.aws_region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    )
    return {"arn": arn, "invokeArn": invoke}


def _log_group(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    group = physical_name(name, inputs)
    return {"name": group, "arn": _arn("logs", f"log-group:{group}", ctx)}


def _emr_app(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    app_id = "00f" + _suffix(name)
    return {"id": app_id, "arn": _arn("emr-serverless", f"/applications/{app_id}", ctx)}


def _aws_generic(typ: str) -> Rule:
    service = typ.split(":")[1].split("/")[0]
    kind = typ.rsplit(":", 1)[-1].lower()

    def rule(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
        global_ = service in {"iam", "cloudfront", "budgets"}
        return {"arn": _arn(service, f"{kind}/{physical_name(name, inputs)}", ctx, global_=global_)}

    return rule


def _gcp_named(collection: str) -> Rule:
    def rule(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
        short = physical_name(name, inputs)
        resource_id = f"projects/{ctx.gcp_project}/{collection}/{short}"
        return {"id": resource_id, "name": short}

    return rule


def _service_account(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    account_id = inputs.get("accountId") or name
    email = f"{account_id}@{ctx.gcp_project}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{ctx.gcp_project}/serviceAccounts/{email}",
    }


def _service_agent(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    """A Google service agent, as ``gcp.projects.ServiceIdentity`` returns it.

    Most agents are ``service-<project number>@gcp-sa-<api>``; IAP's, which the dashboard
    needs, is.
    """
    api = str(inputs.get("service") or name).split(".")[0]
    email = f"service-{GCP_PROJECT_NUMBER}@gcp-sa-{api}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _gcs_bucket(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    bucket = physical_name(name, inputs)
    return {"id": bucket, "name": bucket, "url": f"gs://{bucket}"}


def _cloud_run(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    service = physical_name(name, inputs)
    return {"uri": f"https://{service}-{_suffix(service)}-ew.a.run.app", "name": service}


def _secret_manager(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    secret_id = inputs.get("secretId") or name
    full = f"projects/{ctx.gcp_project}/secrets/{secret_id}"
    return {"id": full, "name": full}


def _custom_role(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    role = (
        f"projects/{inputs.get('project') or ctx.gcp_project}/roles/{inputs.get('roleId') or name}"
    )
    return {"id": role, "name": role}


def _address(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    return {"address": "203.0.113.10"}


def _atlas_cluster(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    cluster = (inputs.get("name") or name).lower()
    host = f"{cluster}.{_suffix(cluster)[:5]}.mongodb.net"
    return {
        "connectionStrings": {"standardSrv": f"mongodb+srv://{host}"},
        "clusterId": _suffix(cluster),
    }


def _atlas_project(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    return {"id": ("64" + _suffix(name) * 4)[:24]}


def _random_password(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    length = int(inputs.get("length") or 16)
    return {"result": ("Mock" + hashlib.sha256(name.encode()).hexdigest())[:length]}


def _docker_image(name: str, inputs: dict[str, Any], ctx: MockContext) -> State:
    repository = str(inputs.get("imageName") or name).split(":")[0]
    return {"repoDigest": f"{repository}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"}


RULES: dict[str, Rule] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:kinesis/stream:Stream": _stream,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:docdb/cluster:Cluster": _docdb,
    "aws:docdb/subnetGroup:SubnetGroup": _named_by_id,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:ecr/repository:Repository": _ecr,
    "aws:lambda/function:Function": _function,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:emrserverless/application:Application": _emr_app,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_agent,
    "gcp:storage/bucket:Bucket": _gcs_bucket,
    "gcp:cloudrunv2/service:Service": _cloud_run,
    "gcp:cloudrunv2/job:Job": _cloud_run,
    "gcp:secretmanager/secret:Secret": _secret_manager,
    "gcp:pubsub/topic:Topic": _gcp_named("topics"),
    "gcp:pubsub/subscription:Subscription": _gcp_named("subscriptions"),
    "gcp:compute/address:Address": _address,
    "gcp:projects/iAMCustomRole:IAMCustomRole": _custom_role,
    "gcp:kms/keyRing:KeyRing": _gcp_named("locations/europe-west1/keyRings"),
    "mongodbatlas:index/advancedCluster:AdvancedCluster": _atlas_cluster,
    "mongodbatlas:index/project:Project": _atlas_project,
    "docker:index/image:Image": _docker_image,
    "random:index/randomPassword:RandomPassword": _random_password,
}


def resource_state(
    typ: str, name: str, inputs: dict[str, Any], ctx: MockContext
) -> tuple[str, State]:
    """The (id, output state) a provider would return for a new resource."""
    rule = RULES.get(typ) or (_aws_generic(typ) if typ.startswith("aws:") else None)
    extra = rule(name, inputs, ctx) if rule else {}
    if typ.startswith("gcp:"):
        kind = typ.rsplit(":", 1)[-1].lower()
        extra.setdefault(
            "selfLink",
            f"{_COMPUTE}/projects/{ctx.gcp_project}/{kind}s/{physical_name(name, inputs)}",
        )
    state: State = {"name": physical_name(name, inputs), **inputs, **extra}
    if typ == "gcp:kms/cryptoKey:CryptoKey":
        state["id"] = f"{inputs.get('keyRing')}/cryptoKeys/{physical_name(name, inputs)}"
    # Ids are unique per (type, name): a security group and a cluster may share a logical name.
    kind = typ.rsplit(":", 1)[-1].lower()
    resource_id = str(state.pop("id", None) or f"{kind}-{_suffix(f'{typ}::{name}')}")
    return resource_id, state


def call_result(token: str, args: dict[str, Any], ctx: MockContext) -> dict[str, Any]:
    """What a data source (invoke) returns."""
    results: dict[str, dict[str, Any]] = {
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "accountId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
            "userId": "AIDA",
        },
        "aws:index/getRegion:getRegion": {"name": ctx.aws_region, "region": ctx.aws_region},
        "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com"},
        "aws:index/getAvailabilityZones:getAvailabilityZones": {
            "names": [f"{ctx.aws_region}{z}" for z in "abc"],
            "zoneIds": [f"euw1-az{i}" for i in (1, 2, 3)],
        },
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            "userName": "AWS",
            "password": "mock-ecr-token",
            "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{ctx.aws_region}.amazonaws.com",
        },
        "gcp:organizations/getProject:getProject": {
            "number": GCP_PROJECT_NUMBER,
            "projectId": ctx.gcp_project,
        },
        "gcp:organizations/getClientConfig:getClientConfig": {
            "accessToken": "mock-access-token",
            "project": ctx.gcp_project,
        },
        "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": {
            "emailAddress": f"service-{GCP_PROJECT_NUMBER}@{_STORAGE_AGENTS}"
        },
    }
    return results.get(token, {})
