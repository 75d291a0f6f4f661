"""The GCP stack of streamkit (Pulumi, Python): ``cd infra/gcp && pulumi up``.

See docs/deploy-gcp.md.
"""
