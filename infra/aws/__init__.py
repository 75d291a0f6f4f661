"""The AWS stack of streamkit (Pulumi, Python): ``cd infra/aws && pulumi up``.

See docs/deploy-aws.md.
"""
