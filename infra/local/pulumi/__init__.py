"""The local stack as a Pulumi program (Docker provider): ``cd infra/local/pulumi && pulumi up``.

The same services as infra/local/compose.yaml, so every environment is a Pulumi stack. See
docs/deploy-local.md.
"""
